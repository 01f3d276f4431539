package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/torrent-dev/torrent/internal/tmpfs"
)

// directLayout: 256 KiB pieces over files whose boundaries fall inside
// pieces and file blocks, so writes have direct middles and buffered heads
// and tails, and a short last piece.
func directLayout() (Layout, []byte) {
	const pl = 256 << 10
	return randomLayout(pl,
		File{Path: "a", Length: 3*pl + 1000},
		File{Path: "sub/b", Length: 2*pl - 1000 + 4096*3 + 7},
		File{Path: "c", Length: 5*pl + 12345})
}

// writeShuffled writes every piece of data from its own buffer, as the
// swarm does, in random order.
func writeShuffled(t *testing.T, s *Storage, data []byte, seed uint64) {
	t.Helper()
	pl := s.l.PieceLength
	for _, i := range rand.New(rand.NewPCG(seed, 1)).Perm(s.NumPieces()) {
		buf := make([]byte, s.PieceLen(i))
		copy(buf, data[int64(i)*pl:])
		if _, err := s.WriteAt(buf, int64(i)*pl); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
	}
}

// checkAll reads everything back, then checks every piece on disk.
func checkAll(t *testing.T, s *Storage, data []byte) {
	t.Helper()
	got := make([]byte, len(data))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v, equal %v", err, bytes.Equal(got, data))
	}
	have, err := s.Verify(context.Background(), nil)
	if err != nil || !have.Full() {
		t.Fatalf("check: %d of %d pieces good, %v", have.Count(), s.NumPieces(), err)
	}
}

// dioAlign is what statx says about direct I/O on path: ok false where it
// cannot tell.
func dioAlign(t *testing.T, path string) (align uint32, ok bool) {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_DIOALIGN, &sx); err != nil {
		t.Fatal(err)
	}
	return sx.Dio_offset_align, sx.Mask&unix.STATX_DIOALIGN != 0
}

// resident counts the pages of the file at path in the page cache.
func resident(t *testing.T, path string) (in, all int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	for _, v := range vec {
		in += int(v & 1)
	}
	return in, len(vec)
}

// Pieces written in random order, partly direct and partly through the page
// cache, read back and check as written, on the disk of the test's temporary
// directory and on a tmpfs; where statx reports direct I/O, it was used.
func TestDirectWrites(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"tempdir", "tmpfs"} {
		t.Run(where, func(t *testing.T) {
			dir := t.TempDir()
			if where == "tmpfs" {
				dir = tmpfs.Mount(t, "16m").Dir
			}
			l, data := directLayout()
			s, err := Open(dir, l)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			writeShuffled(t, s, data, 1)
			// Direct writes leave the page cache alone: most of each
			// file's pages are not resident before anything reads them.
			for i, f := range l.Files {
				if a, ok := dioAlign(t, s.path(i)); ok && a > 0 {
					if in, all := resident(t, s.path(i)); in > all/2 {
						t.Errorf("%s: statx reports direct I/O (alignment %d), but %d of its %d pages are in the page cache", f.Path, a, in, all)
					}
				}
			}
			checkAll(t, s, data)
			// Overwriting direct-written data (a piece fetched again)
			// leaves no stale page-cache copy behind.
			fresh := bytes.Clone(data)
			for i := range fresh[:l.PieceLength] {
				fresh[i] ^= 0xff
			}
			if _, err := s.WriteAt(bytes.Clone(fresh[:l.PieceLength]), 0); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, l.PieceLength)
			if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, fresh[:l.PieceLength]) {
				t.Fatalf("read after overwrite: %v", err)
			}
		})
	}
}

// A filesystem that refuses a direct write (EINVAL: an alignment it does
// not take) gets that write, and every later one to the file, through the
// page cache, and nothing is lost. Not parallel: it replaces directWrite.
func TestDirectWriteRefused(t *testing.T) {
	dir := t.TempDir()
	if a, ok := dioAlign(t, dir); ok && a == 0 {
		t.Fatalf("%s: statx reports no direct I/O; this test needs a filesystem that has it", dir)
	}
	refused := 0
	directWrite = func(*os.File, []byte, int64) (int, error) {
		refused++
		return 0, fmt.Errorf("write: %w", syscall.EINVAL)
	}
	defer func() { directWrite = rawWriteAt }()
	l, data := directLayout()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeShuffled(t, s, data, 2)
	checkAll(t, s, data)
	// once per file (each has a long aligned run), then never again
	if refused != len(l.Files) {
		t.Fatalf("%d direct writes tried, want one per file (%d)", refused, len(l.Files))
	}
	for i := range l.Files {
		if fs := &s.files[i]; fs.direct != nil || !fs.noDirect {
			t.Errorf("file %d: direct %v, noDirect %v after a refusal", i, fs.direct != nil, fs.noDirect)
		}
	}
}

// Any other error of a direct write is the write's error, as a WriteError,
// like a buffered one's.
func TestDirectWriteError(t *testing.T) {
	directWrite = func(*os.File, []byte, int64) (int, error) { return 0, syscall.EIO }
	defer func() { directWrite = rawWriteAt }()
	l, data := directLayout()
	s, err := Open(t.TempDir(), l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.WriteAt(bytes.Clone(data[:l.PieceLength]), 0)
	var we *WriteError
	if !errors.As(err, &we) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("got %v, want a WriteError for EIO", err)
	}
}
