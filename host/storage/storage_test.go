package storage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// testLayout: 0-byte files, odd sizes, a piece spanning three files.
func testLayout(t testing.TB, pieceLen int64) (Layout, []byte) {
	t.Helper()
	files := []File{{Path: "d/a", Length: 100}, {Path: "d/empty", Length: 0}, {Path: "d/b", Length: 10}, {Path: "d/c", Length: 50}, {Path: "d/sub/e", Length: 1000}, {Path: "d/z", Length: 0}}
	var total int64
	for _, f := range files {
		total += f.Length
	}
	data := make([]byte, total)
	rand.NewChaCha8([32]byte{1}).Read(data)
	l := Layout{PieceLength: pieceLen, Files: files}
	for off := int64(0); off < total; off += pieceLen {
		l.Hashes = append(l.Hashes, sha1.Sum(data[off:min(off+pieceLen, total)]))
	}
	return l, data
}

func TestWriteReadAcrossFiles(t *testing.T) {
	t.Parallel()
	l, data := testLayout(t, 128)
	dir := t.TempDir()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadAt(make([]byte, 10), 0); !errors.Is(err, ErrMissing) {
		t.Fatalf("read before any write: %v, want ErrMissing", err)
	}
	for i := range s.NumPieces() {
		off := int64(i) * 128
		piece := data[off : off+s.PieceLen(i)]
		if !s.CheckPiece(i, piece) {
			t.Fatalf("piece %d does not check", i)
		}
		if _, err := s.WriteAt(piece, off); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len(data))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	// a range across a, b and c
	part := make([]byte, 60)
	if _, err := s.ReadAt(part, 95); err != nil || !bytes.Equal(part, data[95:155]) {
		t.Fatalf("span read: %v", err)
	}
	if _, err := s.ReadAt(part, int64(len(data))-10); err == nil {
		t.Fatal("read past the end succeeded")
	}
	if err := s.CreateEmpty(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"d/empty", "d/z"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() != 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	l, data := testLayout(t, 64)
	dir := t.TempDir()
	s, _ := Open(dir, l)
	defer s.Close()
	written := map[int]bool{0: true, 2: true, 5: true, s.NumPieces() - 1: true}
	for i := range written {
		off := int64(i) * 64
		s.WriteAt(data[off:off+s.PieceLen(i)], off)
	}
	// Corrupt piece 5 by one byte.
	bad := []byte{data[5*64] ^ 1}
	s.WriteAt(bad, 5*64)
	delete(written, 5)
	last := 0
	have, err := s.Verify(context.Background(), func(done, total int) {
		if done < last || total != s.NumPieces() {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.NumPieces() {
		if have.Has(i) != written[i] {
			t.Errorf("piece %d: have %v, want %v", i, have.Has(i), written[i])
		}
	}
	if last != s.NumPieces() {
		t.Errorf("progress ended at %d of %d pieces", last, s.NumPieces())
	}
}

func TestVerifyEmptyDir(t *testing.T) {
	t.Parallel()
	l, _ := testLayout(t, 64)
	s, _ := Open(t.TempDir(), l)
	// No file exists: that is seen once per file, not by trying to
	// read each piece, so progress jumps straight to the end.
	var seen []int
	have, err := s.Verify(context.Background(), func(done, total int) { seen = append(seen, done) })
	if err != nil || have.Count() != 0 {
		t.Fatalf("have %d, err %v", have.Count(), err)
	}
	if len(seen) != 1 || seen[0] != s.NumPieces() {
		t.Errorf("progress %v, want one call at %d", seen, s.NumPieces())
	}
}

func TestOpenRejectsWrongHashCount(t *testing.T) {
	t.Parallel()
	l, _ := testLayout(t, 64)
	l.Hashes = l.Hashes[1:]
	if _, err := Open(t.TempDir(), l); err == nil {
		t.Fatal("no error")
	}
}

func TestResumeRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &Resume{InfoHash: [20]byte{1, 2, 3}, Have: []byte{0xf0, 0x01}, Uploaded: 5, Downloaded: 7,
		Files: []Stamp{{Inode: 9, Size: 1 << 40, MTime: -1, CTime: 3}, {}}}
	if _, err := LoadResume(dir, r.InfoHash); !errors.Is(err, ErrNoResume) {
		t.Fatalf("missing file: %v", err)
	}
	if err := SaveResume(dir, r); err != nil {
		t.Fatal(err)
	}
	got, err := LoadResume(dir, r.InfoHash)
	if err != nil || got.Uploaded != 5 || got.Downloaded != 7 || !bytes.Equal(got.Have, r.Have) ||
		len(got.Files) != 2 || got.Files[0] != r.Files[0] || got.Files[1].Known() {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := LoadResume(dir, [20]byte{9}); err == nil {
		t.Fatal("loaded another torrent's resume file")
	}
}

func TestResumeCorrupt(t *testing.T) {
	t.Parallel()
	good := (&Resume{InfoHash: [20]byte{1}, Have: []byte{0xff}, Files: []Stamp{{Inode: 1}}}).encode()
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	tests := map[string][]byte{
		"empty":     nil,
		"magic":     flip(0),
		"version":   flip(11),
		"bitfield":  flip(len(good) - 4 - stampLen - 1),
		"stamp":     flip(len(good) - 5),
		"files":     flip(51),
		"crc":       flip(len(good) - 1),
		"truncated": good[:len(good)-3],
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := decodeResume(b); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func FuzzDecodeResume(f *testing.F) {
	f.Add((&Resume{InfoHash: [20]byte{1}, Have: []byte{0xff}}).encode())
	f.Add((&Resume{InfoHash: [20]byte{1}, Have: []byte{0xf0, 1}, Files: []Stamp{{1, 2, 3, 4}, {}}}).encode())
	f.Add([]byte("TZRESUME"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResume(b)
		if err == nil && !bytes.Equal(r.encode(), b) {
			t.Fatal("decoded resume re-encodes differently")
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	const size = 256 << 20
	pl := int64(1 << 20)
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{2}).Read(data)
	l := Layout{PieceLength: pl, Files: []File{{Path: "big", Length: size}}}
	for off := int64(0); off < size; off += pl {
		l.Hashes = append(l.Hashes, sha1.Sum(data[off:off+pl]))
	}
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "big"), data, 0o644)
	s, _ := Open(dir, l)
	defer s.Close()
	b.SetBytes(size)
	for b.Loop() {
		have, err := s.Verify(context.Background(), nil)
		if err != nil || !have.Full() {
			b.Fatal(err)
		}
	}
}
