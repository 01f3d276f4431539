package swarm

import "testing"

// Piece buffers in memory are bounded: by 16 MiB for small pieces, by
// minPieces for pieces that large; recycled buffers beyond that are not kept.
func TestPieceBudget(t *testing.T) {
	for _, tc := range []struct {
		pieceLen int64
		want     int // pieces that may start before the table is full
	}{{1 << 20, 16}, {256 << 10, 64}, {16 << 20, minPieces}} {
		tab := newPieceTable(geometry{1000, tc.pieceLen, 1000 * tc.pieceLen})
		n := 0
		for ; !tab.full(); n++ {
			tab.start(n)
		}
		if n != tc.want {
			t.Errorf("piece length %d: full after %d pieces, want %d", tc.pieceLen, n, tc.want)
		}
		for i := range n {
			ps := tab.active[i]
			tab.finish(ps)
			tab.recycle(ps.buf)
		}
		tab.recycle(make([]byte, tc.pieceLen)) // one more than was ever out
		if len(tab.free) != tc.want {
			t.Errorf("piece length %d: %d buffers kept, want %d", tc.pieceLen, len(tab.free), tc.want)
		}
		if tab.full() {
			t.Errorf("piece length %d: still full with nothing in flight", tc.pieceLen)
		}
	}
}
