package storage

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// complete writes every piece of l under dir and returns the resume record
// a session would save: Durable first, then the stamps.
func complete(t *testing.T, dir string, l Layout, data []byte) *Resume {
	t.Helper()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	have := bitfield.New(s.NumPieces())
	have.SetAll()
	stamps, err := s.Durable(have.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return &Resume{InfoHash: [20]byte{7}, Have: have.Bytes(), Files: stamps}
}

// restart checks dir against r as the next start would.
func restart(t *testing.T, dir string, l Layout, r *Resume) (bitfield.Bitfield, int) {
	t.Helper()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	have, cs, err := s.Check(context.Background(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return have, cs.Hashed
}

// piecesOf is the pieces that touch file path of testLayout (64-byte pieces).
var piecesOf = map[string][]int{"d/a": {0, 1}, "d/b": {1}, "d/c": {1, 2}, "d/sub/e": seq(2, 18)}

func seq(lo, hi int) []int {
	var p []int
	for i := lo; i <= hi; i++ {
		p = append(p, i)
	}
	return p
}

func TestCheckTrustsUnchangedFiles(t *testing.T) {
	t.Parallel()
	l, data := testLayout(t, 64)
	dir := t.TempDir()
	r := complete(t, dir, l, data)
	have, hashed := restart(t, dir, l, r)
	if hashed != 0 || !have.Full() {
		t.Fatalf("hashed %d pieces, have %d of %d; want 0 hashed, all had", hashed, have.Count(), have.Len())
	}
	// Pieces the record does not hold stay missing, unhashed.
	r.Have = bitfield.New(len(l.Hashes)).Bytes()
	if have, hashed := restart(t, dir, l, r); hashed != 0 || have.Count() != 0 {
		t.Fatalf("empty record: hashed %d, have %d", hashed, have.Count())
	}
	// -check: no record, everything hashed.
	if have, hashed := restart(t, dir, l, nil); hashed != len(l.Hashes) || !have.Full() {
		t.Fatalf("full check: hashed %d, have %d", hashed, have.Count())
	}
}

// TestCheckFindsChangedFile changes files behind the record's back in the
// ways the record must notice; only the pieces touching the changed file
// are hashed, and a spoilt piece is found.
func TestCheckFindsChangedFile(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		file  string
		spoil int // byte offset in the torrent that ends up wrong; -1: none
		op    func(t *testing.T, p string, off int64)
	}{
		"byte changed, mtime moved": {"d/sub/e", 500, func(t *testing.T, p string, off int64) {
			flipByte(t, p, off)
			later := time.Now().Add(time.Hour)
			os.Chtimes(p, later, later)
		}},
		"byte changed, mtime set back": {"d/c", 120, func(t *testing.T, p string, off int64) {
			fi, _ := os.Stat(p)
			flipByte(t, p, off)
			os.Chtimes(p, fi.ModTime(), fi.ModTime()) // only ctime tells
		}},
		"truncated": {"d/a", 90, func(t *testing.T, p string, off int64) {
			if err := os.Truncate(p, 80); err != nil {
				t.Fatal(err)
			}
		}},
		"replaced by a copy, same mtime": {"d/sub/e", -1, func(t *testing.T, p string, _ int64) {
			b, _ := os.ReadFile(p)
			fi, _ := os.Stat(p)
			os.WriteFile(p+".new", b, 0o644)
			os.Chtimes(p+".new", fi.ModTime(), fi.ModTime())
			if err := os.Rename(p+".new", p); err != nil {
				t.Fatal(err)
			}
		}},
		"deleted": {"d/b", 105, func(t *testing.T, p string, _ int64) { os.Remove(p) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, data := testLayout(t, 64)
			dir := t.TempDir()
			r := complete(t, dir, l, data)
			start := fileStart(l, tc.file)
			tc.op(t, filepath.Join(dir, tc.file), int64(tc.spoil)-start)
			have, hashed := restart(t, dir, l, r)
			touched := piecesOf[tc.file]
			if hashed != len(touched) {
				t.Errorf("hashed %d pieces, want the %d that touch %s", hashed, len(touched), tc.file)
			}
			for i := range l.Hashes {
				want := tc.spoil < 0 || i != tc.spoil/64
				if have.Has(i) != want {
					t.Errorf("piece %d: have %v, want %v", i, have.Has(i), want)
				}
			}
		})
	}
}

func fileStart(l Layout, path string) int64 {
	var off int64
	for _, f := range l.Files {
		if f.Path == path {
			return off
		}
		off += f.Length
	}
	panic(path)
}

func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestDurableVouchesOnlyForOwnWrites: a file another program wrote after
// our last write gets no stamp, so its pieces are hashed at the next
// start even though the record lists them.
func TestDurableVouchesOnlyForOwnWrites(t *testing.T) {
	t.Parallel()
	l, data := testLayout(t, 64)
	dir := t.TempDir()
	s, _ := Open(dir, l)
	defer s.Close()
	s.WriteAt(data, 0)
	time.Sleep(20 * time.Millisecond) // past the filesystem's clock tick
	flipByte(t, filepath.Join(dir, "d/c"), 5)
	have := bitfield.New(s.NumPieces())
	have.SetAll()
	stamps, err := s.Durable(have.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range l.Files {
		if want := f.Length > 0 && f.Path != "d/c"; stamps[i].Known() != want {
			t.Errorf("%s: stamp known %v, want %v", f.Path, stamps[i].Known(), want)
		}
	}
}

func TestFitsRejectsOtherLayout(t *testing.T) {
	t.Parallel()
	l, data := testLayout(t, 64)
	dir := t.TempDir()
	r := complete(t, dir, l, data)
	s, _ := Open(dir, l)
	defer s.Close()
	short := *r
	short.Files = short.Files[1:]
	long := *r
	long.Have = append(long.Have, 0)
	for name, bad := range map[string]*Resume{"files": &short, "pieces": &long} {
		if err := s.Fits(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, _, err := s.Check(context.Background(), bad, nil); err == nil {
			t.Errorf("%s: Check took it", name)
		}
	}
}

// TestResumeVersion1Refused: a resume file of the format before stamps
// (version 1, which every earlier build wrote) is an error, never trusted.
func TestResumeVersion1Refused(t *testing.T) {
	t.Parallel()
	b := []byte(resumeMagic)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, make([]byte, 20+8+8)...)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, 0xff)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	dir := t.TempDir()
	os.WriteFile(ResumePath(dir, [20]byte{}), b, 0o644)
	if _, err := LoadResume(dir, [20]byte{}); err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Fatalf("version 1 file: %v", err)
	}
}

// FuzzCheckRecord: whatever a resume record says, nothing counts as had
// where no file is on disk.
func FuzzCheckRecord(f *testing.F) {
	l, _ := testLayout(f, 64)
	dir := f.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Add([]byte{0xff, 0xff, 0xe0}, uint64(1), int64(100), int64(1), int64(1))
	f.Add([]byte{0xff, 0xff, 0xff}, uint64(0), int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, have []byte, ino uint64, size, mt, ct int64) {
		r := &Resume{Have: have, Files: make([]Stamp, len(l.Files))}
		for i := range r.Files {
			r.Files[i] = Stamp{Inode: ino + uint64(i), Size: size, MTime: mt, CTime: ct}
		}
		got, _, err := s.Check(context.Background(), r, nil)
		if err != nil {
			if s.Fits(r) == nil {
				t.Fatalf("a record that fits: %v", err)
			}
			return
		}
		if got.Count() != 0 {
			t.Fatalf("%d pieces had with no file on disk", got.Count())
		}
	})
}

// TestWriteRightAfterDurableIsSeen: another program's write in the same
// clock tick as the stamp still moves the file's times, so the next start
// hashes the file. This rests on the kernel's multigrain timestamps (Linux
// 6.13 and later on ext4, xfs, btrfs and tmpfs: a change after a stat gets
// a fine-grained time); on an older kernel such a write can go unseen, and
// this test fails there by design.
func TestWriteRightAfterDurableIsSeen(t *testing.T) {
	t.Parallel()
	l, data := testLayout(t, 64)
	dir := t.TempDir()
	for round := range 50 {
		r := complete(t, dir, l, data)
		flipByte(t, filepath.Join(dir, "d/sub/e"), 7) // no pause: the same tick
		have, hashed := restart(t, dir, l, r)
		if hashed != len(piecesOf["d/sub/e"]) || have.Has(2) || have.Count() != len(l.Hashes)-1 {
			t.Fatalf("round %d: hashed %d, have %d of %d, piece 2 had %v: the write went unseen",
				round, hashed, have.Count(), len(l.Hashes), have.Has(2))
		}
	}
}
