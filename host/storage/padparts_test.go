package storage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// layoutOf hashes data (zeros where files are pads) into a layout.
func layoutOf(pieceLen int64, files []File) (Layout, []byte) {
	var total int64
	for _, f := range files {
		total += f.Length
	}
	data := make([]byte, total)
	rand.NewChaCha8([32]byte{2}).Read(data)
	off := int64(0)
	for _, f := range files {
		if f.Pad {
			clear(data[off : off+f.Length])
		}
		off += f.Length
	}
	l := Layout{PieceLength: pieceLen, Files: files, Parts: ".parts"}
	for off := int64(0); off < total; off += pieceLen {
		l.Hashes = append(l.Hashes, sha1.Sum(data[off:min(off+pieceLen, total)]))
	}
	return l, data
}

func writeAll(t *testing.T, s *Storage, data []byte, pieceLen int64) {
	t.Helper()
	for i := range s.NumPieces() {
		off := int64(i) * pieceLen
		if _, err := s.WriteAt(data[off:off+s.PieceLen(i)], off); err != nil {
			t.Fatal(err)
		}
	}
}

// Pad files are never created and read as zeros; skipped files never
// appear, their bytes that pieces brought live in the hidden parts file,
// and all of it checks again at the next start.
func TestPadAndSkippedFiles(t *testing.T) {
	t.Parallel()
	const pl = 64
	l, data := layoutOf(pl, []File{
		{Path: "d/a", Length: 100}, {Path: "d/.pad/28", Length: 28, Pad: true},
		{Path: "d/skip", Length: 150, Skip: true}, {Path: "d/b", Length: 10},
		{Path: "d/empty-skipped", Length: 0, Skip: true}, {Path: "d/c", Length: 30}, {Path: "d/.pad/2", Length: 2, Pad: true},
	})
	dir := t.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEmpty(); err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, data, pl)
	got := make([]byte, len(data))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	s.Close()
	for _, gone := range []string{"d/.pad", "d/skip", "d/empty-skipped"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s exists (%v)", gone, err)
		}
	}
	for _, f := range []string{"d/a", "d/b", "d/c", ".parts"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "d/c")); !bytes.Equal(b, data[288:318]) {
		t.Error("d/c differs")
	}
	s, err = Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	have, err := s.Verify(context.Background(), nil)
	if err != nil || !have.Full() {
		t.Fatalf("after reopening: %d of %d pieces check (%v)", have.Count(), s.NumPieces(), err)
	}
}

// A skipped file already on disk (chosen in an earlier run) is read and
// written in place, not moved to the parts file.
func TestSkippedFileOnDiskIsUsed(t *testing.T) {
	t.Parallel()
	const pl = 64
	l, data := layoutOf(pl, []File{{Path: "a", Length: 100}, {Path: "b", Length: 100}})
	dir := t.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, data, pl)
	s.Close()
	l.Files[1].Skip = true
	s, err = Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	have, err := s.Verify(context.Background(), nil)
	if err != nil || !have.Full() {
		t.Fatalf("%d of %d pieces check (%v)", have.Count(), s.NumPieces(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".parts")); !os.IsNotExist(err) {
		t.Errorf("parts file made: %v", err)
	}
}

// The parts file is watched like the files: truncated by another program,
// it reports the pieces of the files kept in it; pad files are never
// opened and so never reported.
func TestChangedPartsFile(t *testing.T) {
	t.Parallel()
	const pl = 64
	l, data := layoutOf(pl, []File{{Path: "a", Length: 100}, {Path: ".pad/28", Length: 28, Pad: true}, {Path: "skip", Length: 100, Skip: true}, {Path: "c", Length: 20}})
	dir := t.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAll(t, s, data, pl)
	if got := s.Changed(); got != nil {
		t.Fatalf("our own writes reported: %v", got)
	}
	if err := os.Truncate(filepath.Join(dir, ".parts"), 130); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Changed(), []int{2, 3}; !slices.Equal(got, want) {
		t.Fatalf("after truncating the parts file: %v, want %v", got, want)
	}
}
