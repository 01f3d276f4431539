package hostapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/session"
)

// Plugins see which files the user did not choose.
func TestSessionInfoMarksSkippedFiles(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int{"t/a.bin": 1000, "t/b.txt": 10, "t/c/d.bin": 20} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := metainfo.Create(filepath.Join(dir, "t"), metainfo.CreateOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(dir, "t.torrent")
	if err := os.WriteFile(torrent, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := session.Open(torrent, session.Options{Dir: t.TempDir(), Skip: []string{"*.bin"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range sessionInfo(s).Files {
		got[f.Path] = f.Skipped
	}
	if len(got) != 3 || !got["t/a.bin"] || got["t/b.txt"] || !got["t/c/d.bin"] {
		t.Fatalf("skipped: %v", got)
	}
}
