package storage

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/torrent-dev/torrent/internal/tmpfs"
)

// randomLayout is one torrent of the given files, filled with random data.
func randomLayout(pieceLen int64, files ...File) (Layout, []byte) {
	var total int64
	for _, f := range files {
		total += f.Length
	}
	data := make([]byte, total)
	rand.NewChaCha8([32]byte{7}).Read(data)
	l := Layout{PieceLength: pieceLen, Files: files}
	for off := int64(0); off < total; off += pieceLen {
		l.Hashes = append(l.Hashes, sha1.Sum(data[off:min(off+pieceLen, total)]))
	}
	return l, data
}

// On a real full filesystem a write fails as a WriteError that says "disk
// full at DIR"; the pieces written before stay readable, a resume save
// fails and leaves the previous file whole, and once the filesystem grows
// the same write succeeds.
func TestWriteOnFullDisk(t *testing.T) {
	fs := tmpfs.Mount(t, "1m")
	const pl = 64 << 10
	l, data := randomLayout(pl, File{Path: "big", Length: 2 << 20})
	s, err := Open(fs.Dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := &Resume{InfoHash: [20]byte{1}, Have: make([]byte, 4)}
	if err := SaveResume(fs.Dir, old); err != nil {
		t.Fatal(err)
	}
	full := -1
	for i := range s.NumPieces() {
		if _, err := s.WriteAt(data[i*pl:(i+1)*pl], int64(i)*pl); err != nil {
			var we *WriteError
			if !errors.As(err, &we) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("piece %d: %v, want a WriteError for ENOSPC", i, err)
			}
			if got, want := we.Status(), "disk full at "+fs.Dir; got != want {
				t.Fatalf("status %q, want %q", got, want)
			}
			full = i
			break
		}
	}
	if full <= 0 {
		t.Fatalf("a 1 MiB filesystem took %d pieces of 64 KiB", full)
	}
	for i := range full {
		buf := make([]byte, pl)
		if _, err := s.ReadAt(buf, int64(i)*pl); err != nil || !s.CheckPiece(i, buf) {
			t.Fatalf("piece %d written before the disk filled: %v", i, err)
		}
	}
	// Fill the last free bytes, so the resume save finds none.
	if f, err := os.Create(filepath.Join(fs.Dir, "filler")); err == nil {
		f.Write(make([]byte, 1<<20))
		f.Close()
	}
	newer := &Resume{InfoHash: old.InfoHash, Have: []byte{0xff, 0, 0, 0}}
	if err := SaveResume(fs.Dir, newer); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("resume save on a full disk: %v, want ENOSPC", err)
	}
	got, err := LoadResume(fs.Dir, old.InfoHash)
	if err != nil || !bytes.Equal(got.Have, old.Have) {
		t.Fatalf("resume file after a failed save: %+v, %v; want the previous one", got, err)
	}
	if m, _ := filepath.Glob(filepath.Join(fs.Dir, ".torrent-save-*")); len(m) > 0 {
		t.Fatalf("temporary resume files left: %v", m)
	}
	fs.Resize("4m")
	for i := full; i < s.NumPieces(); i++ {
		if _, err := s.WriteAt(data[i*pl:(i+1)*pl], int64(i)*pl); err != nil {
			t.Fatalf("piece %d after the filesystem grew: %v", i, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(fs.Dir, "big")); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("data after the filesystem grew differs (%v)", err)
	}
}

// Changed reports files another program truncated, deleted, replaced or
// wrote to, once each, and never storage's own writes; a deleted file
// reads as missing even though storage still has it open, and a write
// creates it again.
func TestChangedFiles(t *testing.T) {
	t.Parallel()
	const pl = 100
	l, data := randomLayout(pl, File{Path: "d/a", Length: 250}, File{Path: "d/b", Length: 30}, File{Path: "d/c", Length: 220})
	dir := t.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Changed(); got != nil {
		t.Fatalf("changed before any file exists: %v", got)
	}
	if _, err := s.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if got := s.Changed(); got != nil {
		t.Fatalf("our own writes reported as changes: %v", got)
	}
	if got, want := s.FilePieces(2), []int{0, 1, 2, 2, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("FilePieces(2) = %v, want %v", got, want) // piece 2 spans a, b and c
	}

	path := func(f string) string { return filepath.Join(dir, "d", f) }
	if err := os.Truncate(path("c"), 10); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Changed(), []int{2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("after truncating c: %v, want %v", got, want)
	}
	if got := s.Changed(); got != nil {
		t.Fatalf("a change reported twice: %v", got)
	}

	if err := os.Remove(path("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAt(make([]byte, 10), 0); !errors.Is(err, ErrMissing) {
		t.Fatalf("read of a deleted file: %v, want ErrMissing", err)
	}
	if got, want := s.Changed(), []int{0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("after deleting a: %v, want %v", got, want)
	}
	if _, err := s.WriteAt(data[:pl], 0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path("a")); err != nil || !bytes.Equal(b, data[:pl]) {
		t.Fatalf("deleted file not created again by a write (%v)", err)
	}

	// Replaced under the same name (as an editor saves): another inode.
	if err := os.WriteFile(path("b")+".new", data[250:280], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path("b")+".new", path("b")); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Changed(), []int{2}; !slices.Equal(got, want) {
		t.Fatalf("after replacing b: %v, want %v", got, want)
	}
}

// A write error names the directory and says in a few words what is wrong.
func TestWriteErrorStatus(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want string
	}{
		"no space": {syscall.ENOSPC, "disk full at /d"},
		"quota":    {syscall.EDQUOT, "disk full at /d"},
		"i/o":      {syscall.EIO, "disk I/O error at /d"},
		"ro":       {syscall.EROFS, "read-only filesystem at /d"},
		"other":    {os.ErrPermission, "cannot write to /d"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := &WriteError{Dir: "/d", File: "x/y", Err: &os.PathError{Op: "write", Path: "/d/x/y", Err: tc.err}}
			if got := e.Status(); got != tc.want {
				t.Fatalf("Status() = %q, want %q", got, tc.want)
			}
			if !errors.Is(e, tc.err) {
				t.Fatal("the cause does not unwrap")
			}
		})
	}
}
