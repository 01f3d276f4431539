package main

import (
	"testing"

	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// status -json: each file's verified bytes, skipped and priority, from
// the host's torrent and bitfield.
func TestStatusFiles(t *testing.T) {
	t.Parallel()
	// Pieces of 10 bytes; a: [0, 15), b: [15, 40), c: [40, 40), d: [40, 45).
	ti := &hostpb.TorrentInfo{PieceLength: 10, NumPieces: 5, Files: []*hostpb.FileInfo{
		{Path: "t/a", Length: 15}, {Path: "t/b", Length: 25, Offset: 15, Skipped: true},
		{Path: "t/c", Offset: 40, Priority: 1}, {Path: "t/d", Length: 5, Offset: 40, Priority: -1}}}
	have := bitfield.New(5)
	for _, i := range []int{1, 2, 4} {
		have.Set(i)
	}
	want := []struct {
		done     int64
		skipped  bool
		priority string
	}{{5, false, "normal"}, {15, true, "normal"}, {0, false, "high"}, {5, false, "low"}}
	got := statusFiles(ti, have)
	if len(got) != len(want) {
		t.Fatalf("%d files, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if *g.BytesDone != w.done || g.Skipped != w.skipped || g.Priority != w.priority || g.Path != ti.Files[i].Path {
			t.Errorf("file %s: done %d skipped %v priority %s, want %+v", g.Path, *g.BytesDone, g.Skipped, g.Priority, w)
		}
	}
}
