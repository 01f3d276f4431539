package swarm

import (
	"slices"
	"testing"

	"github.com/torrent-dev/torrent/host/wire"
)

// The downloader's encoded requests become runs of adjacent blocks, across
// piece boundaries, in the order asked; cancels take requests back.
func TestWebQueueRuns(t *testing.T) {
	t.Parallel()
	g := geometry{numPieces: 4, pieceLength: 2 * blockSize, totalLength: 7*blockSize + 100}
	q := newWebQueue()
	var b []byte
	for _, r := range []webReq{{0, 0, blockSize}, {2, 0, blockSize}, {0, blockSize, blockSize}, {1, 0, blockSize},
		{3, blockSize, 100}, {2, blockSize, blockSize}, {3, 0, blockSize}} {
		b = appendRequest(b, r.index, r.begin, r.length)
	}
	b = wire.AppendMessage(b, wire.Interested{}) // ignored
	q.send(b)
	q.sendMsg(wire.Cancel{Index: 2, Begin: 0, Length: blockSize})
	want := [][]webReq{
		{{0, 0, blockSize}, {0, blockSize, blockSize}, {1, 0, blockSize}},
		{{3, blockSize, 100}},
		{{2, blockSize, blockSize}, {3, 0, blockSize}},
	}
	for i, w := range want {
		if got := q.take(g); !slices.Equal(got, w) {
			t.Fatalf("run %d: %v, want %v", i, got, w)
		}
	}
	if got := q.take(g); got != nil {
		t.Fatalf("left over: %v", got)
	}
}

// A run stops at maxWebRun bytes.
func TestWebQueueRunBound(t *testing.T) {
	t.Parallel()
	n := 2 * maxWebRun / blockSize
	g := geometry{numPieces: 1, pieceLength: int64(n) * blockSize, totalLength: int64(n) * blockSize}
	q := newWebQueue()
	for i := range n {
		q.add(webReq{0, uint32(i * blockSize), blockSize})
	}
	for range 2 {
		if got := q.take(g); len(got)*blockSize != maxWebRun {
			t.Fatalf("a run of %d blocks, want %d", len(got), maxWebRun/blockSize)
		}
	}
}
