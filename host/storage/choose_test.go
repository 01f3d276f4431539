package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A file chosen after pieces shared with it went to the parts file gets
// those bytes in its real file (read back through storage and from the
// file itself), the parts file lets them go, and the next start (skipped
// again by its flags, but now on disk) finds every piece.
func TestChooseSkippedFileMovesParts(t *testing.T) {
	t.Parallel()
	const pl = 64
	l, data := layoutOf(pl, []File{{Path: "a", Length: 100}, {Path: "mid", Length: 300, Skip: true}, {Path: "c", Length: 50}})
	dir := t.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const notFetched = 4 // [256, 320): inside mid
	for i := range s.NumPieces() {
		if i == notFetched {
			continue
		}
		off := int64(i) * pl
		if _, err := s.WriteAt(data[off:off+s.PieceLen(i)], off); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mid")); !os.IsNotExist(err) {
		t.Fatalf("mid exists while skipped: %v", err)
	}
	if err := s.SetSkip(1, false); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "mid"))
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(100); off < 400; off++ {
		if off/pl == notFetched {
			continue
		}
		if int(off-100) >= len(onDisk) || onDisk[off-100] != data[off] {
			t.Fatalf("mid's byte %d is not the torrent's byte %d after the move", off-100, off)
		}
	}
	got := make([]byte, 100)
	if _, err := s.ReadAt(got, 100); err != nil || !bytes.Equal(got, data[100:200]) {
		t.Fatalf("read through storage after the move: %v", err)
	}
	parts, err := os.ReadFile(filepath.Join(dir, ".parts"))
	if err != nil {
		t.Fatal(err)
	}
	if n := min(len(parts), 400); n > 100 && !bytes.Equal(parts[100:n], make([]byte, n-100)) {
		t.Fatal("the parts file still holds mid's bytes")
	}
	// The missing piece comes later, to the real file.
	off := int64(notFetched) * pl
	if _, err := s.WriteAt(data[off:off+pl], off); err != nil {
		t.Fatal(err)
	}
	s.Close()

	again, err := Open(dir, l) // l still skips mid: the file on disk is used
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	have, err := again.Verify(context.Background(), nil)
	if err != nil || !have.Full() {
		t.Fatalf("next start: %d of %d pieces (%v)", have.Count(), have.Len(), err)
	}
}

// A file skipped while running keeps what it has on disk; one never
// created sends its shared bytes to the parts file from then on.
func TestSkipChosenFileWhileRunning(t *testing.T) {
	t.Parallel()
	const pl = 64
	l, data := layoutOf(pl, []File{{Path: "a", Length: 100}, {Path: "mid", Length: 300}, {Path: "c", Length: 50}})
	l.Parts = ".parts"
	dir := t.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetSkip(1, true); err != nil {
		t.Fatal(err)
	}
	off := int64(1) * pl // [64, 128): a and mid
	if _, err := s.WriteAt(data[off:off+pl], off); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mid")); !os.IsNotExist(err) {
		t.Fatalf("mid created after it was skipped: %v", err)
	}
	got := make([]byte, pl)
	if _, err := s.ReadAt(got, off); err != nil || !bytes.Equal(got, data[off:off+pl]) {
		t.Fatalf("read back from the parts file: %v", err)
	}
	if err := s.SetSkip(1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSkip(1, true); err != nil { // now on disk: it stays there
		t.Fatal(err)
	}
	if _, err := s.ReadAt(got, off); err != nil || !bytes.Equal(got, data[off:off+pl]) {
		t.Fatalf("read back from mid: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mid")); err != nil {
		t.Fatalf("mid: %v", err)
	}
}
