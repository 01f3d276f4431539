package hostapi

import (
	"testing"

	"github.com/torrent-dev/torrent/host/session"
)

// Plugins see which files the user did not choose.
func TestSessionInfoMarksSkippedFiles(t *testing.T) {
	s := openThree(t, session.Options{Skip: []string{"*.bin"}})
	got := map[string]bool{}
	for _, f := range sessionInfo(s).Files {
		got[f.Path] = f.Skipped
	}
	if len(got) != 3 || !got["t/a.bin"] || got["t/b.txt"] || !got["t/c/d.bin"] {
		t.Fatalf("skipped: %v", got)
	}
}
