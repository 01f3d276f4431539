package swarm

import (
	"slices"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
)

// Urgent blocks beyond what TestDownloaderUrgent* in downloader_test.go
// covers: copies of the first ones, a seek ahead of other streams'
// windows, the short pipeline while a reader is active.

// The blocks of the first urgent piece (the copy window, here one piece)
// are asked of two peers each, those after it of one; the first copy to
// arrive cancels the other, and the other, crossing its cancel, is taken
// without complaint.
func TestDownloaderUrgentCopies(t *testing.T) {
	t.Parallel()
	const n = 40
	r := newRig(t, n)
	peers, outs, urgent := r.fastTrio(t, n)
	r.d.setUrgent(blocked(urgent))
	askedOf := urgentAsked(t, outs, urgent)
	for i, want := range []int{2, 1} {
		for b := range uint32(2) {
			if got := askedOf[req(uint32(urgent[i]), b)]; len(got) != want {
				t.Fatalf("block %d of urgent piece %d asked of peers %v, want %d of them", b, urgent[i], got, want)
			}
		}
	}
	first := req(uint32(urgent[0]), 0)
	winner, loser := askedOf[first][0], askedOf[first][1]
	third := 3 - winner - loser
	if err := r.block(peers[winner], first.index, 0); err != nil {
		t.Fatal(err)
	}
	if got := outs[loser].take(t); !slices.Contains(got, cancel(first.index, 0)) {
		t.Fatalf("after peer %d's copy, peer %d got %v, want the cancel of its copy", winner, loser, got)
	}
	for _, m := range outs[third].take(t) {
		if m.id == wire.IDCancel {
			t.Fatalf("peer %d, never asked for the block, got %v", third, m)
		}
	}
	down, from := r.d.down, peers[loser].downloaded
	if err := r.block(peers[loser], first.index, 0); err != nil {
		t.Fatalf("the copy crossing its cancel: %v", err)
	}
	// It took the peer's upload all the same: it counts in its rate, not
	// in the blocks used.
	if r.d.down != down || peers[loser].downloaded-from != blockSize {
		t.Fatalf("the copy crossing its cancel counted %d bytes used, %d of the peer's; want 0 and %d",
			r.d.down-down, peers[loser].downloaded-from, blockSize)
	}
}

// fastTrio: three unchoked peers with every piece, fast enough for the
// whole copy window (here the first urgent piece, two blocks) to be
// copied; it returns them, their outboxes, and two pieces none was asked
// for.
func (r *rig) fastTrio(t *testing.T, n int) ([]*dlPeer, []*fakeOut, []int) {
	t.Helper()
	r.d.dup = 2 * blockSize
	var peers []*dlPeer
	var outs []*fakeOut
	asked := map[uint32]bool{}
	for id := range 3 {
		p, out := r.peer(sdk.PeerID(id+1), true, everyPiece(n)...)
		p.depth = 16
		p.peak = 8 << 20 // a fast swarm: the whole window is copied (copyBlocks)
		r.d.gotUnchoke(p)
		for _, m := range out.take(t) {
			asked[m.index] = true
		}
		peers, outs = append(peers, p), append(outs, out)
	}
	return peers, outs, unasked(t, asked, n, 2)
}

// urgentAsked takes what the peers were sent: each request for a block of
// the urgent pieces, with the peers (by index) it was sent to.
func urgentAsked(t *testing.T, outs []*fakeOut, urgent []int) map[sent][]int {
	t.Helper()
	askedOf := map[sent][]int{}
	for k, out := range outs {
		for _, m := range out.take(t) {
			if m.id == wire.IDRequest && slices.Contains(urgent, int(m.index)) {
				askedOf[m] = append(askedOf[m], k)
			}
		}
	}
	return askedOf
}

// Pieces kept urgent ahead of a reader who waits for nothing (a stream's
// window) are asked of one peer each, late or not: copies of them would
// keep the seeders at their cap (docs/performance.md, round 7). Once a
// read is blocked on the first, its blocks are copied.
func TestDownloaderWindowNotCopied(t *testing.T) {
	t.Parallel()
	const n = 40
	r := newRig(t, n)
	peers, outs, urgent := r.fastTrio(t, n)
	for _, p := range peers {
		p.depth = 64 // room for copies past the short pipeline's 16
	}
	r.d.setUrgent(urgent, 0, 0)
	r.d.lateCopies(time.Now().Add(2 * lateAfter))
	askedOf := urgentAsked(t, outs, urgent)
	for _, i := range urgent {
		for b := range uint32(2) {
			if got := askedOf[req(uint32(i), b)]; len(got) != 1 {
				t.Fatalf("window block %d/%d asked of peers %v, want one", i, b, got)
			}
		}
	}
	r.d.setUrgent(urgent, 1, 1)
	askedOf = urgentAsked(t, outs, urgent)
	for b := range uint32(2) {
		if got := askedOf[req(uint32(urgent[0]), b)]; len(got) != 1 {
			t.Fatalf("blocked-on block %d/%d got copies from peers %v, want one more", urgent[0], b, got)
		}
	}
	for key := range askedOf {
		if key.index != uint32(urgent[0]) {
			t.Fatalf("%v copied: only the piece a read is blocked on is", key)
		}
	}
}

// A read's readahead is waited for but not blocked on: in a fast swarm,
// where the whole copy window is copied, only the blocks of the read's own
// piece are asked of two peers; the readahead's, of one, late or not
// (copied).
func TestDownloaderReadaheadNotCopied(t *testing.T) {
	t.Parallel()
	const n = 40
	r := newRig(t, n)
	peers, outs, urgent := r.fastTrio(t, n)
	r.d.dup = 4 * blockSize // room for both pieces' blocks in the copy window
	for _, p := range peers {
		p.depth = 64
	}
	r.d.setUrgent(urgent, 1, 2)
	r.d.lateCopies(time.Now().Add(2 * lateAfter))
	askedOf := urgentAsked(t, outs, urgent)
	for i, want := range []int{2, 1} {
		for b := range uint32(2) {
			if got := askedOf[req(uint32(urgent[i]), b)]; len(got) != want {
				t.Fatalf("block %d of piece %d (own: %v) asked of peers %v, want %d of them", b, urgent[i], i == 0, got, want)
			}
		}
	}
}

// blocked is an urgent set that reads are blocked on in full.
func blocked(pieces []int) ([]int, int, int) { return pieces, len(pieces), len(pieces) }

// A peer that unchokes while a reader waits is asked for copies of the
// first urgent blocks, before any bulk; a third peer gets no third copy.
func TestDownloaderUrgentCopiesOnUnchoke(t *testing.T) {
	t.Parallel()
	const n = 200 // far from the endgame, which would ask for copies anyway
	r := newRig(t, n)
	r.d.dup = 2 * blockSize
	all := everyPiece(n)
	a, aout := r.peer(1, true, all...)
	b, bout := r.peer(2, true, all...)
	c, cout := r.peer(3, true, all...)
	a.peak, b.peak, c.peak = 8<<20, 8<<20, 8<<20 // a fast swarm: the whole window is copied
	aout.take(t)
	bout.take(t)
	cout.take(t)
	r.d.setUrgent(blocked([]int{7, 9})) // all choke us yet
	r.d.gotUnchoke(a)
	if got := aout.take(t); !slices.Equal(got[:4], []sent{req(7, 0), req(7, 1), req(9, 0), req(9, 1)}) {
		t.Fatalf("the first peer was asked for %v first, want the urgent blocks in order", got)
	}
	r.d.gotUnchoke(b)
	got := bout.take(t)
	if !slices.Equal(got[:2], []sent{req(7, 0), req(7, 1)}) || slices.Contains(got, req(9, 0)) {
		t.Fatalf("the second peer was asked for %v, want copies of piece 7's blocks first and none of 9's", got)
	}
	r.d.gotUnchoke(c)
	for _, m := range cout.take(t) {
		if m.index == 7 || m.index == 9 {
			t.Fatalf("a third copy: %v", m)
		}
	}
}

// Only the first urgentDup bytes of a read (a quarter MiB) are asked of
// two peers; the rest of the blocks a reader waits for, of one: a copy a
// seeder has already read into its send buffer is sent anyway and takes
// its quota from the blocks after it.
func TestDownloaderUrgentCopiesQuarterMiB(t *testing.T) {
	t.Parallel()
	first, second, blocks := readCopies(t, 1<<20, 1<<40, true) // a MiB: urgentDup blocks and a window; a swarm too fast to pace
	if len(first) != blocks {
		t.Fatalf("the first peer was asked for %d of the read's %d blocks", len(first), blocks)
	}
	copied := (256 << 10) / blockSize // a quarter MiB
	for k := range blocks {
		if want := k < copied; second[k] != want {
			t.Fatalf("block %d of the read asked of the second peer: %v, want copies of the first %d blocks only (asked: %v)", k, second[k], copied, second)
		}
	}
}

// In a slow swarm the copies stop at a sixteenth of a second of its rate
// (a copy costs its seeder's quota, cancelled or not); the rest of the
// quarter MiB is still asked for at once, of one peer. Before any rate is
// known only the first block is copied. But a block that waits behind
// more than a burst (what a peer sends a tick) at that peer is copied by
// a second peer that would send it in its next burst (queuedAhead).
func TestDownloaderUrgentCopiesByRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		peak          int64
		copies, burst int
	}{
		{256 << 10, 2, 8}, // 512 KiB/s in all: two blocks of copies; 128 KiB a tick each
		{0, 1, 8},
	} {
		for _, own := range []bool{true, false} {
			first, second, blocks := readCopies(t, urgentDup, c.peak, own)
			copies := c.copies
			if !own {
				copies = 0 // a readahead gets only the deep copies
			}
			for k := range blocks {
				if !first[k] {
					t.Fatalf("peak %d: block %d of the quarter MiB was not asked of the first peer (asked: %v)", c.peak, k, first)
				}
				// The second peer copies the first blocks, then those queued
				// past the first peer's burst while its own burst has room.
				deep := k >= c.burst && k < c.burst+c.burst-copies
				if want := k < copies || deep; second[k] != want {
					t.Fatalf("peak %d, own %v: block %d of the read asked of the second peer: %v, want %v (asked: %v)",
						c.peak, own, k, second[k], want, second)
				}
			}
		}
	}
}

// readCopies makes a read of size bytes urgent, its own bytes or its
// readahead, while two peers that have every piece choke us, each with
// room for the whole read and the given pace peak; then they unchoke one
// after the other. It returns the read's blocks (by their place in it)
// each was asked for, and how many it has.
func readCopies(t *testing.T, size int, peak int64, own bool) (first, second map[int]bool, blocks int) {
	const n = 400 // far from the endgame, which would ask for copies anyway
	r := newRig(t, n)
	all := everyPiece(n)
	a, aout := r.peer(1, true, all...)
	b, bout := r.peer(2, true, all...)
	a.depth, b.depth = 512, 512 // room for the whole read in the short pipeline
	a.peak, b.peak = peak, peak
	aout.take(t)
	bout.take(t)
	pl := int(r.d.pieces.pieceLength)
	var urgent []int
	for i := range size / pl {
		urgent = append(urgent, 10+i)
	}
	blockedOn := 0
	if own {
		blockedOn = len(urgent)
	}
	r.d.setUrgent(urgent, blockedOn, len(urgent))
	asked := func(out *fakeOut) map[int]bool {
		got := map[int]bool{}
		for _, m := range out.take(t) {
			if k := slices.Index(urgent, int(m.index)); m.id == wire.IDRequest && k >= 0 {
				got[k*pl/blockSize+int(m.begin)/blockSize] = true
			}
		}
		return got
	}
	r.d.gotUnchoke(a)
	first = asked(aout)
	r.d.gotUnchoke(b)
	return first, asked(bout), size / blockSize
}

// A block of the quarter MiB asked of one peer gets its copy once it is
// late (lateAfter), from the run loop's tick, with no read or peer event.
func TestDownloaderLateBlocksCopied(t *testing.T) {
	t.Parallel()
	const n = 400 // far from the endgame, which would ask for copies anyway
	r := newRig(t, n)
	a, b := r.unchokedPair(t, n)
	a.depth, b.depth = 512, 512       // room for copies beyond the bulk
	a.peak, b.peak = 256<<10, 256<<10 // two blocks of copies (copyBlocks)
	pl := int(r.d.pieces.pieceLength)
	var urgent []int // the quarter MiB
	for i := range urgentDup / pl {
		urgent = append(urgent, 100+i)
	}
	r.d.setUrgent(blocked(urgent))
	reqs := func() (once, twice int) {
		for _, i := range urgent {
			for _, n := range r.d.pieces.active[i].reqs {
				switch n {
				case 1:
					once++
				case 2:
					twice++
				}
			}
		}
		return once, twice
	}
	window := urgentDup / blockSize
	if once, twice := reqs(); once != window-2 || twice != 2 {
		t.Fatalf("blocks asked once %d, twice %d; want %d and 2", once, twice, window-2)
	}
	r.d.lateCopies(time.Now()) // none is late yet
	if once, twice := reqs(); once != window-2 || twice != 2 {
		t.Fatalf("before any is late: blocks asked once %d, twice %d; want %d and 2", once, twice, window-2)
	}
	r.d.lateCopies(time.Now().Add(lateAfter))
	if once, twice := reqs(); once != 0 || twice != window {
		t.Fatalf("once late: blocks asked once %d, twice %d; want 0 and %d", once, twice, window)
	}
}

// unchokedPair: two peers with every piece that unchoked us, what they
// were asked for then taken.
func (r *rig) unchokedPair(t *testing.T, n int) (a, b *dlPeer) {
	t.Helper()
	all := everyPiece(n)
	a, aout := r.peer(1, true, all...)
	b, bout := r.peer(2, true, all...)
	r.d.gotUnchoke(a)
	r.d.gotUnchoke(b)
	aout.take(t)
	bout.take(t)
	return a, b
}

// A late block of a piece one peer fetches alone (ban.go) has nobody to
// copy it: the run loop's tick does not try every 25 ms (late).
func TestDownloaderLateSoloNotCopied(t *testing.T) {
	t.Parallel()
	const n = 400
	r := newRig(t, n)
	r.unchokedPair(t, n)
	r.d.solo = func(int) bool { return true }
	r.d.setUrgent(blocked([]int{100}))
	ps := r.d.pieces.active[100]
	if ps == nil || ps.solo == 0 {
		t.Fatal("the urgent piece did not start with one peer alone")
	}
	if r.d.late(time.Now().Add(lateAfter)) {
		t.Fatal("a late block of a solo piece counted as one to copy")
	}
	r.d.solo = func(int) bool { return false }
	ps.solo = 0
	if !r.d.late(time.Now().Add(lateAfter)) {
		t.Fatal("a late block of a piece any peer may join not counted as one to copy")
	}
}

// A seek's piece, put before the window a stream keeps urgent, has the
// window's requests cancelled for it, and is asked for after the cancels.
func TestDownloaderSeekPreemptsOtherWindows(t *testing.T) {
	t.Parallel()
	const n = 200
	r := newRig(t, n)
	r.d.dup = 1 << 20 // the whole window is asked for at once, past the short pipeline
	p, out := r.peer(1, true, everyPiece(n)...)
	r.d.gotUnchoke(p)
	asked := map[uint32]bool{}
	for _, m := range out.take(t) {
		asked[m.index] = true
	}
	var window []int
	seek := -1
	for i := range n {
		switch {
		case asked[uint32(i)]:
		case len(window) < p.depth/4:
			window = append(window, i)
		case seek < 0:
			seek = i
		}
	}
	r.d.setUrgent(blocked(window))
	out.take(t)
	inWindow := 0
	for key := range p.inflight {
		if slices.Contains(window, int(key>>32)) {
			inWindow++
		}
	}
	if inWindow != 2*len(window) {
		t.Fatalf("%d of the window's %d blocks asked for", inWindow, 2*len(window))
	}
	r.d.setUrgent(blocked(append([]int{seek}, window...)))
	got := out.take(t)
	var cancelled, seekReqs int
	for _, m := range got {
		switch {
		case m.id == wire.IDCancel && slices.Contains(window, int(m.index)):
			cancelled++
			if seekReqs > 0 {
				t.Fatalf("a cancel after the seek's requests: %v", got)
			}
		case m.id == wire.IDRequest && m.index == uint32(seek):
			seekReqs++
		}
	}
	if cancelled != 2*len(window) || seekReqs != 2 {
		t.Fatalf("%d window requests cancelled (want all %d), %d seek requests (want 2):\n%v",
			cancelled, 2*len(window), seekReqs, got)
	}
}

// While a reader is active the pipeline is topped up to an eighth of its
// depth, not all of it; once no reader asked for readerQuiet, to all of it.
func TestDownloaderReaderKeepsPipelineShort(t *testing.T) {
	t.Parallel()
	const n = 400
	r := newRig(t, n)
	p, out := r.peer(1, true, everyPiece(n)...)
	p.depth = 256
	r.d.gotUnchoke(p)
	asked := map[uint32]bool{}
	for _, m := range out.take(t) {
		asked[m.index] = true
	}
	if len(p.inflight) != p.depth {
		t.Fatalf("%d requests out before any reader, want the whole pipeline's %d", len(p.inflight), p.depth)
	}
	u := uint32(0)
	for asked[u] {
		u++
	}
	r.d.setUrgent(blocked([]int{int(u)}))
	short := p.shortDepth()
	for b := range uint32(2) {
		if err := r.block(p, u, b); err != nil {
			t.Fatal(err)
		}
	}
	r.d.pieceDone(int(u))
	r.d.setUrgent(blocked(nil))
	for key := range p.inflight { // a few bulk blocks come in
		if err := r.block(p, uint32(key>>32), uint32(key)/blockSize); err != nil {
			t.Fatal(err)
		}
		break
	}
	if len(p.inflight) > short {
		t.Fatalf("%d requests out with a reader just gone, want at most %d", len(p.inflight), short)
	}
	r.d.readAt = time.Now().Add(-readerQuiet - time.Second)
	for key := range p.inflight {
		if err := r.block(p, uint32(key>>32), uint32(key)/blockSize); err != nil {
			t.Fatal(err)
		}
		break
	}
	if len(p.inflight) != p.depth {
		t.Fatalf("%d requests out with no reader for %s, want the whole pipeline's %d", len(p.inflight), readerQuiet, p.depth)
	}
}

// The blocks a reader waits for first (the copy window) may fill the whole
// pipeline; a stream's window past them only the short one: a seeder sends
// what it read ahead even after a Cancel, so a window asked for in full
// would go before the next seek's blocks.
func TestDownloaderWindowKeepsPipelineShort(t *testing.T) {
	t.Parallel()
	const n = 400
	r := newRig(t, n)
	p, out := r.peer(1, true, everyPiece(n)...)
	p.depth = 256
	short := p.shortDepth()
	first := short + 16 // blocks of the copy window: more than the short pipeline
	r.d.dup = first * blockSize
	out.take(t)
	var urgent []int
	for i := range 100 { // 200 blocks: within the whole pipeline
		urgent = append(urgent, 3*i)
	}
	r.d.setUrgent(blocked(urgent)) // p chokes us yet
	r.d.gotUnchoke(p)
	got := out.take(t)
	var want []sent
	for _, i := range urgent[:first/2] {
		want = append(want, req(uint32(i), 0), req(uint32(i), 1))
	}
	if !sameSet(got, want) {
		t.Fatalf("asked for %d blocks:\n%v\nwant the %d of the copy window and none of the rest:\n%v", len(got), got, len(want), want)
	}
	for k := range first / 2 { // the copy window comes in: the window goes on in the short pipeline
		for b := range uint32(2) {
			if err := r.block(p, uint32(urgent[k]), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(p.inflight) != short {
		t.Fatalf("%d requests out for the window, want the short pipeline's %d", len(p.inflight), short)
	}
}

// A fast peer answers a Cancel with a reject, which libtorrent sends only
// at its next burst, by when the block may have been asked of it again:
// that reject answers the cancelled request and leaves the new one on.
// The new one's block is taken, and nothing is left withdrawn.
func TestDownloaderStaleRejectKeepsNewRequest(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	p, out := r.peer(1, true, 0)
	p.depth = 2
	r.d.gotUnchoke(p)
	if got := out.take(t); !slices.Contains(got, req(0, 0)) || !slices.Contains(got, req(0, 1)) {
		t.Fatalf("asked for %v, want both blocks", got)
	}
	key := blockKey(0, 0)
	r.d.pieces.release(p, key) // taken back, as preempt does, then asked again
	r.d.fill(p)
	if got := out.take(t); !slices.Equal(got, []sent{req(0, 0)}) {
		t.Fatalf("asked again for %v, want %v", got, req(0, 0))
	}
	r.d.gotReject(p, 0, 0) // the answer to the cancelled request
	if _, on := p.inflight[key]; !on {
		t.Fatalf("the reject of the cancelled request took back the new one too: %v", p.inflight)
	}
	for b := range uint32(2) {
		if err := r.block(p, 0, b); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(r.verified, []int{0}) || p.withdrawn != 0 {
		t.Fatalf("verified %v, %d withdrawn, want piece 0 and none", r.verified, p.withdrawn)
	}
	// A second reject, nobody's: ignored, and a block nobody asked for is
	// now the peer's fault.
	r.d.gotReject(p, 0, 0)
	if err := r.block(p, 0, 1); err == nil {
		t.Fatal("a block never asked for was taken")
	}

	// The reject of a live request is its answer: the same block asked
	// again and rejected again is free again.
	r = newRig(t, 1)
	p, out = r.peer(1, true, 0)
	out.take(t) // interested
	p.depth = 1
	r.d.gotUnchoke(p)
	for range 2 {
		if got := out.take(t); !slices.Equal(got, []sent{req(0, 0)}) {
			t.Fatalf("asked for %v, want %v", got, req(0, 0))
		}
		r.d.gotReject(p, 0, 0)
		if len(p.inflight) != 0 || p.withdrawn != 0 {
			t.Fatalf("after a reject, %v in flight and %d withdrawn, want none", p.inflight, p.withdrawn)
		}
		r.d.fill(p)
	}
}

// A stream's window that moves on by a piece keeps its requests: its first
// pieces are now within the copy window, but copies take no room, so
// nothing of the window is cancelled (a seeder would send much of it
// anyway, and it would be fetched twice).
func TestDownloaderWindowMovesOnWithoutCancels(t *testing.T) {
	t.Parallel()
	const n = 200
	r := newRig(t, n)
	r.d.dup = 4 * blockSize // two pieces
	var peers []*dlPeer
	var outs []*fakeOut
	for id := range 2 {
		p, out := r.peer(sdk.PeerID(id+1), true, everyPiece(n)...)
		p.depth = 32 // a slow seeder: keep 4, short pipeline 16
		peers, outs = append(peers, p), append(outs, out)
	}
	for _, p := range peers {
		r.d.gotUnchoke(p)
	}
	var window []int // pieces nobody was asked for
	for i := 0; len(window) < 8; i++ {
		if r.d.pieces.active[i] == nil {
			window = append(window, i)
		}
	}
	next := window[7] + 1
	for r.d.pieces.active[next] != nil {
		next++
	}
	r.d.setUrgent(blocked(window))
	for _, out := range outs {
		out.take(t)
	}
	for b := range uint32(2) {
		key := blockKey(uint32(window[0]), b*blockSize)
		k := slices.IndexFunc(peers, func(p *dlPeer) bool { _, on := p.inflight[key]; return on })
		if k < 0 {
			t.Fatalf("block %d of the window's first piece asked of nobody", b)
		}
		if err := r.block(peers[k], uint32(window[0]), b); err != nil {
			t.Fatal(err)
		}
	}
	r.d.pieceDone(window[0])
	for _, out := range outs {
		out.take(t) // the cancel of a copy that lost
	}
	r.d.setUrgent(blocked(append(window[1:], next)))
	for k, out := range outs {
		for _, m := range out.take(t) {
			if m.id == wire.IDCancel && slices.Contains(window, int(m.index)) {
				t.Fatalf("peer %d: the window moving on cancelled %v", k, m)
			}
		}
	}
}

// While a reader is active, a peer whose rate is known is asked for its
// stream windows and bulk no faster than its pace, a few blocks at a time
// (the run loop's paceTick tops it up), not for its whole short pipeline
// at once; the first blocks a reader waits for are not held back, but
// they count against the pace (they take the seeder's quota all the
// same), here its whole slack. Without a reader, or before its rate is
// known, the pipeline is filled.
func TestDownloaderReaderPacesRequests(t *testing.T) {
	t.Parallel()
	const n = 400
	r := newRig(t, n)
	p, out := r.peer(1, true, everyPiece(n)...)
	p.depth = 256
	short := p.shortDepth()
	p.adjustDepth(blockSize) // one block a second: its pace, a few blocks at once
	p.depth = 256
	slack := paceSlack(p.paceGap())
	r.d.dup = 4 * blockSize // two pieces
	out.take(t)             // interested
	r.d.setUrgent(blocked([]int{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}))
	r.d.gotUnchoke(p)
	got := out.take(t)
	if slack != 4 || len(got) != 4 {
		t.Fatalf("asked for %d blocks: %v; want the copy window's 4, which take the pace's slack of %d", len(got), got, slack)
	}
	for _, m := range got {
		if m.index > 11 {
			t.Fatalf("the copy window's blocks were not asked for first: %v", got)
		}
	}
	if !p.paceHeld {
		t.Fatal("a peer its pace held back is not marked for paceTick")
	}
	r.d.paceTick() // too soon for another block
	if got := out.take(t); len(got) != 0 {
		t.Fatalf("asked for %v ahead of the pace", got)
	}
	p.paceNext = time.Now().Add(-time.Hour) // its pace allows more by now
	r.d.paceTick()
	if got := out.take(t); len(got) != slack {
		t.Fatalf("paceTick asked for %d blocks, want %d", len(got), slack)
	}

	q, qout := r.peer(2, true, everyPiece(n)...) // rate not known yet
	q.depth = 256
	r.d.gotUnchoke(q)
	if len(q.inflight) != short {
		t.Fatalf("a peer of unknown rate has %d requests out (%v), want the short pipeline's %d", len(q.inflight), qout.take(t), short)
	}
}

// A mount's swarm asks for no bulk while it holds (holdUntil): a seeder
// sends its first second's quota at once as it unchokes, and the mount's
// first reader, usually there within that second, is to get it. A reader
// is served at once meanwhile, first; the bulk fills the whole pipeline
// from the run loop's tick once the hold ends.
func TestDownloaderMountHoldsBulk(t *testing.T) {
	t.Parallel()
	const n = 100
	held := func() (*rig, *dlPeer, *fakeOut) {
		r := newRig(t, n)
		r.d.holdUntil = time.Now().Add(time.Hour)
		p, out := r.peer(1, true, everyPiece(n)...)
		out.take(t) // interested
		r.d.gotUnchoke(p)
		if got := out.take(t); len(got) != 0 {
			t.Fatalf("asked for %v while the mount holds the bulk", got)
		}
		r.d.paceTick()
		if got := out.take(t); len(got) != 0 {
			t.Fatalf("the tick asked for %v while the mount holds the bulk", got)
		}
		return r, p, out
	}
	r, p, out := held()
	r.d.holdUntil = time.Now()
	r.d.paceTick()
	if got := out.take(t); len(got) != p.depth {
		t.Fatalf("once the hold ended, the tick asked for %d blocks, want the pipeline's %d", len(got), p.depth)
	}
	r, _, out = held()
	r.d.setUrgent(blocked([]int{50}))
	if got := out.take(t); len(got) < 2 || !sameSet(got[:2], []sent{req(50, 0), req(50, 1)}) {
		t.Fatalf("a reader's piece: asked for %v, want its two blocks first", got)
	}
}
