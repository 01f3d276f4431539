package swarm

import (
	"slices"
	"testing"

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

func bits(n int, set ...int) bitfield.Bitfield {
	b := bitfield.New(n)
	for _, i := range set {
		b.Set(i)
	}
	return b
}

// finishPieces delivers every requested block of r's one peer and lets
// the verified pieces in, as the run loop does; it returns the pieces
// that were requested.
func (r *rig) finishPieces(p *dlPeer, out *fakeOut) []int {
	r.t.Helper()
	var pieces []int
	for _, s := range out.take(r.t) {
		if s.id != wire.IDRequest {
			continue
		}
		if !slices.Contains(pieces, int(s.index)) {
			pieces = append(pieces, int(s.index))
		}
		if err := r.block(p, s.index, s.begin/blockSize); err != nil {
			r.t.Fatal(err)
		}
	}
	for _, i := range r.verified {
		delete(r.d.pieces.verifying, i)
		r.d.pieceDone(i)
	}
	r.verified = nil
	r.d.refill()
	return pieces
}

// High pieces are fetched before all others, low ones after all others.
func TestSelectionPriorityOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8)
	r.d.setSelection(Selection{High: bits(8, 6), Low: bits(8, 0, 1, 2, 3)})
	p, out := r.peer(1, false, 0, 1, 2, 3, 4, 5, 6, 7)
	p.depth = 2 // one piece at a time
	r.d.gotUnchoke(p)
	var order []int
	for len(order) < 8 {
		got := r.finishPieces(p, out)
		if len(got) == 0 {
			t.Fatalf("nothing requested after %v", order)
		}
		order = append(order, got...)
	}
	if order[0] != 6 {
		t.Fatalf("order %v: the high piece 6 is not first", order)
	}
	normal, low := slices.Clone(order[1:4]), slices.Clone(order[4:])
	slices.Sort(normal)
	slices.Sort(low)
	if !slices.Equal(normal, []int{4, 5, 7}) || !slices.Equal(low, []int{0, 1, 2, 3}) {
		t.Fatalf("order %v: want 6, then 4 5 7, then the low 0-3", order)
	}
	if r.d.missing != 0 {
		t.Fatalf("%d missing after every piece", r.d.missing)
	}
}

// A piece no longer wanted with nothing received is cancelled; one partly
// received is finished; a piece wanted again is asked for.
func TestSelectionSkipAndChooseAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3)
	p, out := r.peer(1, false, 0, 1, 2)
	out.take(t)
	p.depth = 4 // two pieces
	r.d.gotUnchoke(p)
	asked := out.take(t)
	var pieces []uint32
	for _, s := range asked {
		if !slices.Contains(pieces, s.index) {
			pieces = append(pieces, s.index)
		}
	}
	if len(pieces) != 2 {
		t.Fatalf("asked %v, want two pieces", asked)
	}
	started, idle := pieces[0], pieces[1]
	if err := r.block(p, started, 0); err != nil {
		t.Fatal(err)
	}
	var rest int
	for i := range 3 {
		if uint32(i) != started && uint32(i) != idle {
			rest = i
		}
	}
	// The refill after the block asks for the third piece: left in out.
	// Only rest stays wanted.
	r.d.setSelection(Selection{Wanted: bits(3, rest)})
	got := out.take(t)
	for _, c := range []sent{cancel(idle, 0), cancel(idle, 1)} {
		if !slices.Contains(got, c) {
			t.Fatalf("after skipping %d and %d: %v, want the cancels of the idle piece %d", started, idle, got, idle)
		}
	}
	// What is still asked for is answered below.
	out.buf = wire.AppendMessage(out.buf, wire.Request{Index: started, Begin: blockSize, Length: blockSize})
	for _, s := range got {
		if s.id == wire.IDRequest && s.index != uint32(rest) {
			t.Fatalf("after skipping %d and %d: request %v", started, idle, s)
		}
		if s.id == wire.IDRequest {
			out.buf = wire.AppendMessage(out.buf, wire.Request{Index: s.index, Begin: s.begin, Length: blockSize})
		}
	}
	if r.d.pieces.active[int(started)] == nil {
		t.Fatalf("the partly received piece %d was dropped", started)
	}
	if r.d.missing != 1 || p.wanted != 1 {
		t.Fatalf("missing %d, peer wanted %d; want 1 and 1", r.d.missing, p.wanted)
	}
	// Choosing everything again asks for the idle piece.
	r.d.setSelection(Selection{})
	if r.d.missing != 3 {
		t.Fatalf("missing %d after choosing everything again, want 3", r.d.missing)
	}
	var fetched []int
	for range 4 {
		fetched = append(fetched, r.finishPieces(p, out)...)
	}
	if !slices.Contains(fetched, int(idle)) || r.d.missing != 0 {
		t.Fatalf("fetched %v once everything is wanted again, %d missing (have %v, started %d rest %d); want piece %d too", fetched, r.d.missing, r.d.have.Bytes(), started, rest, idle)
	}
}

// The picker's low-priority picks wait until the peer has nothing else we
// need; then they go first, in the picker's order.
func TestSelectionLowPicksLater(t *testing.T) {
	t.Parallel()
	r := newRig(t, 4)
	r.d.setSelection(Selection{Low: bits(4, 0, 1, 2)})
	p, out := r.peer(1, false, 0, 1, 2, 3)
	out.take(t)
	p.depth = 2
	r.d.takePicks(sdk.Picks{1: {2, 0, 3, 1}}, r.now)
	r.d.gotUnchoke(p)
	var order []int
	for len(order) < 4 {
		got := r.finishPieces(p, out)
		if len(got) == 0 {
			t.Fatalf("nothing requested after %v", order)
		}
		order = append(order, got...)
	}
	if !slices.Equal(order, []int{3, 2, 0, 1}) {
		t.Fatalf("order %v, want 3 (normal), then the low picks 2 0 1 as ranked", order)
	}
}
