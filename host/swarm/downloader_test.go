package swarm

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// The downloader is driven here as the run loop drives it, with peers
// that are only handles: what it asks each of them for is decoded from
// what it queued for them.

// fakeOut records what the downloader queues for one peer.
type fakeOut struct{ buf []byte }

func (f *fakeOut) send(b []byte)          { f.buf = append(f.buf, b...) }
func (f *fakeOut) sendMsg(m wire.Message) { f.buf = wire.AppendMessage(f.buf, m) }

// sent is one queued message, as "request 1/16384" or "interested".
type sent struct {
	id           wire.MessageID
	index, begin uint32
}

// take decodes and forgets what was queued.
func (f *fakeOut) take(t *testing.T) []sent {
	t.Helper()
	r := wire.NewReader(bytes.NewReader(f.buf), 1<<20)
	f.buf = nil
	var out []sent
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("downloader queued a bad message: %v", err)
		}
		s := sent{id: m.ID()}
		switch m := m.(type) {
		case *wire.Request:
			s.index, s.begin = m.Index, m.Begin
			if want := uint32(blockSize); m.Length != want {
				t.Fatalf("request %d/%d of %d bytes, want %d", m.Index, m.Begin, m.Length, want)
			}
		case *wire.Cancel:
			s.index, s.begin = m.Index, m.Begin
		}
		out = append(out, s)
	}
}

func req(i, b uint32) sent    { return sent{wire.IDRequest, i, b * blockSize} }
func cancel(i, b uint32) sent { return sent{wire.IDCancel, i, b * blockSize} }

var interested = sent{id: wire.IDInterested}

// rig is a downloader for a torrent of n pieces of two blocks each.
type rig struct {
	t        *testing.T
	d        *downloader
	verified []int
	now      time.Time
}

func newRig(t *testing.T, n int) *rig {
	g := geometry{numPieces: n, pieceLength: 2 * blockSize, totalLength: int64(n) * 2 * blockSize}
	r := &rig{t: t, d: newDownloader(g, bitfield.New(n), bitfield.Bitfield{}, &pickerQueue{}), now: time.Unix(1e9, 0)}
	r.d.verify = func(ps *pieceState) { r.verified = append(r.verified, ps.index) }
	return r
}

// peer joins with the given pieces, unchoked or not.
func (r *rig) peer(id sdk.PeerID, fast bool, pieces ...int) (*dlPeer, *fakeOut) {
	out := &fakeOut{}
	p := newDLPeer(id, netipFor(id), fast, out, r.d.pieces.numPieces, r.now)
	r.d.addPeer(p)
	bf := bitfield.New(r.d.pieces.numPieces)
	for _, i := range pieces {
		bf.Set(i)
	}
	if err := r.d.setHas(p, bf); err != nil {
		r.t.Fatal(err)
	}
	return p, out
}

// twoPeers joins peers 1 and 2 with the given pieces, choked, and takes
// what that queued (their interested).
func (r *rig) twoPeers(fast bool, pieces ...int) (a, b *dlPeer, aout, bout *fakeOut) {
	a, aout = r.peer(1, fast, pieces...)
	b, bout = r.peer(2, fast, pieces...)
	aout.take(r.t)
	bout.take(r.t)
	return a, b, aout, bout
}

func (r *rig) block(p *dlPeer, i, b uint32) error {
	return r.d.gotBlock(p, i, b*blockSize, make([]byte, blockSize), r.now)
}

func sameSet(got, want []sent) bool {
	cmp := func(a, b sent) int {
		return int(a.id)*1e9 + int(a.index)*1e6 + int(a.begin) - (int(b.id)*1e9 + int(b.index)*1e6 + int(b.begin))
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	return slices.Equal(got, want)
}

func TestDownloaderRequestsOnlyWhatPeerHas(t *testing.T) {
	t.Parallel()
	r := newRig(t, 4)
	p, out := r.peer(1, false)
	if got := out.take(t); len(got) != 0 {
		t.Fatalf("a peer with nothing got %v", got)
	}
	if err := r.d.gotHave(p, 2); err != nil {
		t.Fatal(err)
	}
	if got := out.take(t); !slices.Equal(got, []sent{interested}) {
		t.Fatalf("after its have: %v, want interested and no request while choked", got)
	}
	r.d.gotUnchoke(p)
	if got := out.take(t); !sameSet(got, []sent{req(2, 0), req(2, 1)}) {
		t.Fatalf("after unchoke: %v, want both blocks of piece 2", got)
	}
	for b := range uint32(2) {
		if err := r.block(p, 2, b); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(r.verified, []int{2}) || len(p.inflight) != 0 {
		t.Fatalf("verified %v with %d requests out, want piece 2 and none", r.verified, len(p.inflight))
	}
	if err := r.d.gotHave(p, 4); err == nil {
		t.Fatal("have of piece 4 of 4 accepted")
	}
	if err := r.block(p, 2, 0); err == nil {
		t.Fatal("a block nobody asked for was accepted")
	}
}

func TestDownloaderChokeFreesBlocksOfSlowPeersOnly(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	plain, pout := r.peer(1, false, 0)
	fast, fout := r.peer(2, true, 0)
	pout.take(t)
	fout.take(t)
	r.d.gotUnchoke(plain)
	if got := pout.take(t); !sameSet(got, []sent{req(0, 0), req(0, 1)}) {
		t.Fatalf("plain peer asked for %v", got)
	}
	// A peer without BEP 6 that chokes us drops our requests: the blocks
	// are free for the fast peer.
	r.d.gotChoke(plain)
	r.d.gotUnchoke(fast)
	if got := fout.take(t); !sameSet(got, []sent{req(0, 0), req(0, 1)}) {
		t.Fatalf("fast peer asked for %v after the plain one choked", got)
	}
	// A fast peer that chokes keeps its requests until it rejects them.
	r.d.gotChoke(fast)
	if len(fast.inflight) != 2 {
		t.Fatalf("fast peer's requests after its choke: %d, want 2", len(fast.inflight))
	}
}

func TestDownloaderRejectFreesTheBlock(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	a, b, aout, bout := r.twoPeers(true, 0)
	a.depth = 1
	r.d.gotUnchoke(a)
	first := aout.take(t)
	if len(first) != 1 {
		t.Fatalf("a peer of depth 1 got %v", first)
	}
	b.depth = 1
	r.d.gotUnchoke(b)
	second := bout.take(t)
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("the second peer got %v, want the block the first was not asked for (%v)", second, first)
	}
	// a rejects its block; b has no room, so the block stays free until
	// b's pipeline has.
	r.d.gotReject(a, first[0].index, first[0].begin)
	if len(a.inflight) != 0 {
		t.Fatalf("rejected request still in flight: %v", a.inflight)
	}
	// A reject of something never asked is ignored.
	r.d.gotReject(a, 0, blockSize)
	if err := r.d.gotBlock(b, second[0].index, second[0].begin, make([]byte, blockSize), r.now); err != nil {
		t.Fatal(err)
	}
	if got := bout.take(t); !slices.Equal(got, []sent{first[0]}) {
		t.Fatalf("after its block, the second peer got %v, want the rejected block %v", got, first[0])
	}
}

// A block we took back (a preempt's Cancel, a release) that comes anyway
// is filed if its piece still lacks it: libtorrent sends most of what it
// was asked for, Cancel or not. A copy asked of another peer since is
// cancelled as any duplicate is.
func TestDownloaderWithdrawnBlockFiled(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	a, b, aout, bout := r.twoPeers(false, 0)
	a.depth = 2
	r.d.gotUnchoke(a)
	if got := aout.take(t); !sameSet(got, []sent{req(0, 0), req(0, 1)}) {
		t.Fatalf("asked for %v, want both blocks", got)
	}
	r.d.pieces.release(a, blockKey(0, 0)) // as preempt does
	if err := r.block(a, 0, 0); err != nil {
		t.Fatal(err)
	}
	ps := r.d.pieces.active[0]
	if ps == nil || !ps.got[0] || ps.unrequested != 0 || r.d.down != blockSize || a.withdrawn != 0 {
		t.Fatalf("the withdrawn block was not filed: piece %+v, %d bytes down, %d withdrawn", ps, r.d.down, a.withdrawn)
	}
	if err := r.block(a, 0, 1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.verified, []int{0}) {
		t.Fatalf("verified %v, want piece 0", r.verified)
	}

	// Released, asked of b since: a's block comes first, b's request is
	// cancelled.
	r = newRig(t, 1)
	a, b, aout, bout = r.twoPeers(false, 0)
	a.depth = 2
	r.d.gotUnchoke(a)
	aout.take(t)
	r.d.pieces.release(a, blockKey(0, 0))
	b.depth = 1
	r.d.gotUnchoke(b)
	if got := bout.take(t); !slices.Equal(got, []sent{req(0, 0)}) {
		t.Fatalf("b asked for %v, want the released block", got)
	}
	if err := r.block(a, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := bout.take(t); !slices.Contains(got, cancel(0, 0)) {
		t.Fatalf("after a's withdrawn block, b got %v, want the cancel of its request", got)
	}
	// A withdrawn block its piece has already is only the peer's rate.
	r.d.pieces.release(a, blockKey(0, 1))
	r.d.gotUnchoke(b)
	bout.take(t)
	if err := r.block(b, 0, 1); err != nil {
		t.Fatal(err)
	}
	down := r.d.down
	if err := r.block(a, 0, 1); err != nil {
		t.Fatal(err)
	}
	if r.d.down != down || !slices.Equal(r.verified, []int{0}) {
		t.Fatalf("a block the piece had counted %d bytes, verified %v", r.d.down-down, r.verified)
	}
}

func TestDownloaderEndgameCancelsTheDuplicate(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	a, b, aout, bout := r.twoPeers(false, 0)
	r.d.gotUnchoke(a)
	r.d.gotUnchoke(b)
	all := []sent{req(0, 0), req(0, 1)}
	if ga, gb := aout.take(t), bout.take(t); !sameSet(ga, all) || !sameSet(gb, all) {
		t.Fatalf("endgame requests: %v and %v, want every block of both", ga, gb)
	}
	if err := r.block(a, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := bout.take(t); !slices.Equal(got, []sent{cancel(0, 0)}) {
		t.Fatalf("after a's copy of block 0, b got %v, want its cancel", got)
	}
	// b's copy crossed the cancel: taken once, without complaint.
	if err := r.block(b, 0, 0); err != nil {
		t.Fatalf("a block crossing its cancel: %v", err)
	}
	if err := r.block(b, 0, 1); err != nil {
		t.Fatal(err)
	}
	if got := aout.take(t); !slices.Equal(got, []sent{cancel(0, 1)}) {
		t.Fatalf("after b's copy of block 1, a got %v, want its cancel", got)
	}
	if !slices.Equal(r.verified, []int{0}) || len(a.inflight)+len(b.inflight) != 0 {
		t.Fatalf("verified %v, in flight %d+%d", r.verified, len(a.inflight), len(b.inflight))
	}
	if r.d.down != 2*blockSize {
		t.Fatalf("%d bytes counted, want the two blocks that were used", r.d.down)
	}
}

func TestDownloaderTimeouts(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2)
	a, aout := r.peer(1, false, 0, 1)
	b, bout := r.peer(2, false, 0)
	aout.take(t)
	bout.take(t)
	r.d.gotUnchoke(a)
	if got := aout.take(t); len(got) != 4 {
		t.Fatalf("asked for %v, want every block", got)
	}
	if err := r.d.checkTimeouts(a, r.now.Add(10*time.Second)); err != nil || len(a.inflight) != 4 {
		t.Fatalf("after 10 s: %v, %d in flight", err, len(a.inflight))
	}
	// Silent for 20 s: the requests are cancelled and free for others.
	if err := r.d.checkTimeouts(a, r.now.Add(21*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := aout.take(t); len(got) != 4 || got[0].id != wire.IDCancel || len(a.inflight) != 0 || a.depth != minDepth {
		t.Fatalf("after 21 s queued %v, %d in flight, depth %d", got, len(a.inflight), a.depth)
	}
	r.d.gotUnchoke(b)
	if got := bout.take(t); !sameSet(got, []sent{req(0, 0), req(0, 1)}) {
		t.Fatalf("the other peer asked for %v", got)
	}
	// Blocks of the timed-out requests may still come, once each.
	if err := r.block(a, 1, 0); err != nil {
		t.Fatalf("late block: %v", err)
	}
	r.d.fill(a)
	aout.take(t)
	// Requests out and nothing for a minute: the peer is to be dropped.
	if len(a.inflight) == 0 {
		t.Fatal("nothing re-requested of the slow peer")
	}
	if err := r.d.checkTimeouts(a, r.now.Add(61*time.Second)); err == nil {
		t.Fatal("a peer silent for 61 s with requests out was kept")
	}
}

func netipFor(id sdk.PeerID) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(id)}) }

// With only some files chosen, a peer that has only pieces of skipped
// files is not interesting and none of them is requested; a reader of a
// skipped file (an urgent piece) makes its piece wanted.
func TestDownloaderFetchesOnlyWantedPieces(t *testing.T) {
	t.Parallel()
	r := newRig(t, 4)
	wanted := bitfield.New(4)
	wanted.Set(1)
	r.d = newDownloader(r.d.pieces.geometry, bitfield.New(4), wanted, &pickerQueue{})
	r.d.verify = func(ps *pieceState) { r.verified = append(r.verified, ps.index) }
	if r.d.missing != 1 {
		t.Fatalf("missing %d, want 1", r.d.missing)
	}
	p, out := r.peer(1, false, 0, 2, 3)
	r.d.gotUnchoke(p)
	if got := out.take(t); len(got) != 0 {
		t.Fatalf("a peer with only unwanted pieces got %v", got)
	}
	if err := r.d.gotHave(p, 1); err != nil {
		t.Fatal(err)
	}
	if got := out.take(t); !sameSet(got, []sent{interested, req(1, 0), req(1, 1)}) {
		t.Fatalf("after its have of the wanted piece: %v", got)
	}
	r.d.setUrgent(blocked([]int{3}))
	if got := out.take(t); !sameSet(got, []sent{req(3, 0), req(3, 1)}) || r.d.missing != 2 {
		t.Fatalf("after piece 3 became urgent: %v, missing %d", got, r.d.missing)
	}
	for _, i := range []uint32{1, 3} {
		for b := range uint32(2) {
			if err := r.block(p, i, b); err != nil {
				t.Fatal(err)
			}
		}
		r.d.pieceDone(int(i))
	}
	if r.d.missing != 0 || len(p.inflight) != 0 {
		t.Fatalf("missing %d with %d requests out", r.d.missing, len(p.inflight))
	}
}

// A reader's piece does not wait behind a full pipeline: its requests are
// cancelled (what the peer sends anyway is filed) and the urgent blocks
// asked for before any bulk block again; a second call with nothing new to
// ask cancels nothing.
func TestDownloaderUrgentPreemptsThePipeline(t *testing.T) {
	t.Parallel()
	const n = 100
	r := newRig(t, n)
	all := everyPiece(n)
	p, out := r.peer(1, true, all...)
	r.d.gotUnchoke(p)
	first := out.take(t)
	if len(p.inflight) != p.depth {
		t.Fatalf("%d requests out, want the pipeline's %d", len(p.inflight), p.depth)
	}
	asked := map[uint32]bool{}
	for _, m := range first {
		if m.id == wire.IDRequest {
			asked[m.index] = true
		}
	}
	urgent := uint32(0)
	for asked[urgent] {
		urgent++
	}
	r.d.setUrgent(blocked([]int{int(urgent)}))
	got := out.take(t)
	var cancels, beforeUrgent int
	sawUrgent := 0
	for _, m := range got {
		switch {
		case m.id == wire.IDCancel:
			cancels++
			if sawUrgent > 0 {
				t.Fatalf("cancel after the urgent requests: %v", got)
			}
		case m.id == wire.IDRequest && m.index == urgent:
			sawUrgent++
		case m.id == wire.IDRequest && sawUrgent < 2:
			beforeUrgent++
		}
	}
	if cancels != p.depth || sawUrgent != 2 || beforeUrgent != 0 {
		t.Fatalf("%d cancels (want all %d), %d urgent requests (want 2), %d bulk requests before them:\n%v",
			cancels, p.depth, sawUrgent, beforeUrgent, got)
	}
	r.d.setUrgent(blocked([]int{int(urgent)}))
	for _, m := range out.take(t) {
		if m.id == wire.IDCancel {
			t.Fatalf("cancelled again with the urgent piece already asked for: %v", m)
		}
	}
}

// Urgent blocks are spread over the peers that have them, by the size of
// their pipelines, rather than all asked of the first peer filled.
func TestDownloaderUrgentSpreadOverPeers(t *testing.T) {
	t.Parallel()
	const n = 40
	r := newRig(t, n)
	all := everyPiece(n)
	a, aout := r.peer(1, true, all...)
	b, bout := r.peer(2, true, all...)
	a.depth, b.depth = 16, 48 // b is three times as fast
	r.d.dup = 0               // no second copies here: TestDownloaderUrgentCopies
	r.d.gotUnchoke(a)
	r.d.gotUnchoke(b)
	asked := map[uint32]bool{}
	for _, m := range append(aout.take(t), bout.take(t)...) {
		asked[m.index] = true
	}
	urgent := unasked(t, asked, n, 4)
	r.d.setUrgent(blocked(urgent))
	count := func(msgs []sent) int {
		k := 0
		for _, m := range msgs {
			if m.id == wire.IDRequest && slices.Contains(urgent, int(m.index)) {
				k++
			}
		}
		return k
	}
	am, bm := aout.take(t), bout.take(t)
	ka, kb := count(am), count(bm)
	// 8 blocks: a's share is a quarter (2), b's the rest (6).
	if ka != 2 || kb != 6 {
		t.Fatalf("urgent blocks asked of a: %d, of b: %d; want 2 and 6", ka, kb)
	}
}

// everyPiece is 0 to n-1: a peer that has them all.
func everyPiece(n int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// unasked is the first k of n pieces not in asked; it fails the test if
// there are fewer.
func unasked(t *testing.T, asked map[uint32]bool, n, k int) []int {
	t.Helper()
	var out []int
	for i := 0; i < n && len(out) < k; i++ {
		if !asked[uint32(i)] {
			out = append(out, i)
		}
	}
	if len(out) < k {
		t.Fatalf("no %d pieces left unasked: %v", k, asked)
	}
	return out
}

// While the piece memory is full, a peer that holds its blocks and sends
// nothing for stallAfter has them asked of the idle peers by the 25 ms
// unstall, not only at the next tick; a peer that is merely busy does not.
func TestDownloaderUnstallTakesOverBehindPeer(t *testing.T) {
	t.Parallel()
	const n = 40
	r := newRig(t, n)
	r.d.pieces.memory = 0 // the least: minPieces
	a, aout := r.peer(1, true, everyPiece(n)...)
	a.lastBlock = time.Now()
	r.d.gotUnchoke(a)
	held := map[sent]bool{}
	for _, m := range aout.take(t) {
		if m.id == wire.IDRequest {
			held[m] = true
		}
	}
	if !r.d.pieces.full() || len(held) != minPieces*2 {
		t.Fatalf("peer 1 holds %d requests, full %v: want every block of the %d pieces the memory allows", len(held), r.d.pieces.full(), minPieces)
	}
	b, bout := r.peer(2, true, everyPiece(n)...)
	b.lastBlock = time.Now()
	r.d.gotUnchoke(b)
	bout.take(t)

	r.d.unstall(time.Now())
	if got := bout.take(t); len(got) > 0 {
		t.Fatalf("peer 2 asked for %v while peer 1 is not behind", got)
	}
	a.lastBlock = time.Now().Add(-stallAfter)
	r.d.unstall(time.Now())
	asked := 0
	for _, m := range bout.take(t) {
		if m.id != wire.IDRequest || !held[m] {
			t.Fatalf("peer 2 sent %v, not a request for a block peer 1 holds", m)
		}
		asked++
	}
	if asked != len(held) {
		t.Fatalf("peer 2 asked for %d of the %d blocks peer 1 holds", asked, len(held))
	}
}
