package swarm

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// The downloader decides what to ask whom for: it owns the piece table,
// the urgent pieces, every request in flight, the endgame and the request
// buffer, and it knows peers only through dlPeer handles (what a peer has,
// whether it chokes us, where its messages go), never their sockets. It
// belongs to the run loop. It is modelled on cenkalti/rain's
// piecedownloader, for a whole torrent rather than one piece.

// sender queues encoded messages for a peer (*outbox).
type sender interface {
	send(b []byte)
	sendMsg(m wire.Message)
}

// dlPeer is the downloader's handle on one peer.
type dlPeer struct {
	id   sdk.PeerID
	ip   netip.Addr // blamed for the blocks it sends (ban.go)
	fast bool       // BEP 6: it rejects each request it will not serve
	out  sender

	has        bitfield.Bitfield
	choked     bool              // they choke us
	interested bool              // we told them we are interested
	inflight   map[uint64]uint64 // block keys asked for: the order each was asked in (asked)
	asked      uint64            // requests made so far
	depth      int               // request pipeline target
	reqq       int               // their limit on outstanding requests (BEP 10)
	wanted     int               // pieces it has that we lack
	picks      []int             // latest ranked list from the picker
	lowPicks   []int             // picks of low priority, kept for later (choose.go)
	wantAfter  time.Time         // no new Want before this
	lastBlock  time.Time
	snubbed    bool // it left our requests unanswered for 20 s; cleared by its next block
	downloaded int64
	withdrawn  int            // requests we took back whose blocks may still come
	cancelled  map[uint64]int // of those, a fast peer's, by block (withdraw)
	peak       int64          // fastest rate seen, decaying (pace.go)
	paceNext   time.Time      // its pace allows no block before this
	paceHeld   bool           // its pace kept fill from topping it up
}

func newDLPeer(id sdk.PeerID, ip netip.Addr, fast bool, out sender, numPieces int, now time.Time) *dlPeer {
	return &dlPeer{id: id, ip: ip, fast: fast, out: out, has: bitfield.New(numPieces), choked: true,
		inflight: make(map[uint64]uint64), depth: initialDepth, reqq: 250, lastBlock: now}
}

func blockKey(index, begin uint32) uint64 { return uint64(index)<<32 | uint64(begin) }

// pickerQueue gathers picker events and wants until the run loop sends
// them in one batch.
type pickerQueue struct {
	events []sdk.Event
	wants  []sdk.Want
}

func (q *pickerQueue) post(e sdk.Event) { q.events = append(q.events, e) }

// downloader: see above.
type downloader struct {
	have    bitfield.Bitfield // verified pieces
	wanted  bitfield.Bitfield // pieces of the files chosen, and urgent ones
	missing int               // wanted pieces not verified
	pieces  *pieceTable
	peers   map[sdk.PeerID]*dlPeer
	urgent  []int
	blocked int       // of urgent, the first ones holding bytes a read is blocked on
	waited  int       // of urgent, those and the reads' readahead
	readAt  time.Time // when a reader last waited for a piece (fillDepth)
	// high and low are the pieces of high and low priority (choose.go);
	// zero Bitfields when there are none.
	high, low bitfield.Bitfield
	picker    *pickerQueue
	rng       *rand.Rand
	reqs      []byte // scratch for encoding a pipeline refill; send copies it
	paused    bool   // the disk refuses writes: no new requests (stall.go)
	// solo says a piece must be fetched from one peer alone (ban.go).
	solo func(piece int) bool
	// verify takes a piece whose every block arrived.
	verify       func(*pieceState)
	down, wasted int64 // payload bytes received; of those, duplicates
	// A lazy swarm's goal and its pieces not verified (lazy.go).
	lazy        bool
	goal        bitfield.Bitfield
	goalMissing int
	// A silent peer's requests are freed after release and the peer is
	// dropped after drop (checkTimeouts); only tests change them.
	release, drop time.Duration
	// The first dup bytes of the urgent blocks are asked of two peers
	// (requests.go); tests change it.
	dup int
	// A mount's swarm asks for no bulk before this (fillDepth, mountHold).
	holdUntil time.Time
}

// newDownloader starts from the pieces verified; wanted is the zero
// Bitfield when every piece is.
func newDownloader(g geometry, have, wanted bitfield.Bitfield, q *pickerQueue) *downloader {
	if wanted.Len() != g.numPieces {
		wanted = bitfield.New(g.numPieces)
		wanted.SetAll()
	}
	d := &downloader{
		have:   have.Clone(),
		wanted: wanted.Clone(),
		pieces: newPieceTable(g),
		peers:  make(map[sdk.PeerID]*dlPeer),
		picker: q,
		rng:    rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		solo:   func(int) bool { return false },
		verify: func(*pieceState) {},
		// checkTimeouts
		release: 20 * time.Second,
		drop:    60 * time.Second,
		dup:     urgentDup,
	}
	for i := range g.numPieces {
		if d.need(i) {
			d.missing++
		}
	}
	return d
}

// need says piece i is wanted and not verified.
func (d *downloader) need(i int) bool { return d.wanted.Has(i) && !d.have.Has(i) }

// want adds piece i to the wanted ones: a reader of a skipped file waits
// for it.
func (d *downloader) want(i int) {
	if d.wanted.Has(i) {
		return
	}
	d.wanted.Set(i)
	if d.have.Has(i) {
		return
	}
	d.missing++
	for _, p := range d.peers {
		if p.has.Has(i) {
			p.wanted++
			d.updateInterest(p)
		}
	}
}

func (d *downloader) addPeer(p *dlPeer) { d.peers[p.id] = p }

// removePeer forgets p; its blocks are free for the others again.
func (d *downloader) removePeer(p *dlPeer) {
	if d.peers[p.id] != p {
		return
	}
	delete(d.peers, p.id)
	d.pieces.releaseAll(p)
	for _, q := range d.peers {
		d.fill(q)
	}
}

// gotHave: p announced piece i.
func (d *downloader) gotHave(p *dlPeer, i int) error {
	if i < 0 || i >= d.pieces.numPieces {
		return protoErr("have %d of %d pieces", i, d.pieces.numPieces)
	}
	if p.has.Has(i) {
		return nil
	}
	p.has.Set(i)
	d.picker.post(sdk.PeerHave{Peer: p.id, Piece: i})
	if d.need(i) {
		p.wanted++
		d.updateInterest(p)
	}
	return nil
}

// errBothComplete lets go of a seed once we are one too.
var errBothComplete = errors.New("both complete")

// setHas replaces what p has (bitfield, have-all, have-none).
func (d *downloader) setHas(p *dlPeer, bf bitfield.Bitfield) error {
	if d.complete() && bf.Full() {
		return errBothComplete
	}
	p.has = bf
	p.wanted = 0
	for i := range d.pieces.numPieces {
		if bf.Has(i) && d.need(i) {
			p.wanted++
		}
	}
	d.picker.post(sdk.PeerJoined{Peer: p.id, Have: bf.Clone()})
	d.updateInterest(p)
	return nil
}

// updateInterest tells p whether we want anything it has.
func (d *downloader) updateInterest(p *dlPeer) {
	want := p.wanted > 0
	if want != p.interested {
		p.interested = want
		if want {
			p.out.sendMsg(wire.Interested{})
		} else {
			p.out.sendMsg(wire.NotInterested{})
		}
	}
	if want {
		d.fill(p)
	}
}

func (d *downloader) gotChoke(p *dlPeer) {
	p.choked = true
	if !p.fast { // BEP 6: a fast peer rejects each request itself
		d.pieces.releaseAll(p)
	}
}

// gotUnchoke: a peer that joins while a reader waits takes its share of
// the urgent blocks, copies of the first ones included, before its bulk.
func (d *downloader) gotUnchoke(p *dlPeer) {
	p.choked = false
	if now := time.Now(); d.urgentWork(p, now) {
		d.assignUrgent([]*dlPeer{p}, now)
	}
	d.fill(p)
}

// gotReject frees a block p will not send; the other peers get it first.
func (d *downloader) gotReject(p *dlPeer, index, begin uint32) {
	key := blockKey(index, begin)
	if p.answered(key) {
		p.withdrawn = max(p.withdrawn-1, 0) // a hostile peer's blocks may have taken it
		return                              // the reject of a Cancel: a request made since is still on
	}
	if _, ok := p.inflight[key]; !ok {
		return
	}
	d.pieces.release(p, key)
	p.withdrawn-- // release counts it, but the reject was its answer
	p.answered(key)
	if ps := d.pieces.active[int(index)]; ps != nil && ps.solo == p.id {
		d.abandon(ps, p)
	}
	for _, q := range d.peers {
		if q != p {
			d.fill(q)
		}
	}
}

// gotBlock files a block into its piece. data stays the caller's.
func (d *downloader) gotBlock(p *dlPeer, index, begin uint32, data []byte, now time.Time) error {
	key := blockKey(index, begin)
	ps := d.pieces.active[int(index)]
	b := int(begin) / blockSize
	fits := ps != nil && int(begin)%blockSize == 0 && uint32(len(data)) == ps.blockLen(b)
	if _, asked := p.inflight[key]; !asked {
		// A request we cancelled, released or timed out may still be
		// answered, once; beyond that the peer sends what nobody asked for.
		if p.withdrawn == 0 {
			return protoErr("block %d/%d was never asked for", index, begin)
		}
		// It took p's upload all the same, so it counts in p's rate (its
		// pace, pace.go: libtorrent sends most cancelled blocks). A block
		// its piece still lacks is filed (a preempt cancels blocks the
		// seeder may have read already); one it has is not in the swarm's
		// bytes downloaded, which are the blocks used.
		p.withdrawn--
		p.answered(key)
		p.downloaded += int64(len(data))
		if !fits || ps.got[b] {
			return nil
		}
		if ps.reqs[b] == 0 {
			ps.unrequested-- // release counted it
		}
		d.down += int64(len(data))
		d.fileBlock(p, ps, b, data)
		return nil
	}
	if !fits {
		return protoErr("block %d/%d of %d bytes was not what we asked for", index, begin, len(data))
	}
	delete(p.inflight, key)
	p.lastBlock, p.snubbed = now, false
	p.downloaded += int64(len(data))
	d.down += int64(len(data))
	ps.reqs[b]--
	if ps.got[b] {
		d.wasted += int64(len(data))
		d.fill(p)
		return nil
	}
	d.fileBlock(p, ps, b, data)
	return nil
}

// fileBlock puts block b of ps, from p, into its piece, which lacked it.
func (d *downloader) fileBlock(p *dlPeer, ps *pieceState, b int, data []byte) {
	begin, key := b*blockSize, blockKey(uint32(ps.index), uint32(b*blockSize))
	if ps.nGot == 0 {
		d.picker.post(sdk.PieceStarted{Piece: ps.index})
	}
	copy(ps.buf[begin:], data)
	ps.got[b] = true
	ps.nGot++
	ps.from[b] = p.ip
	if ps.reqs[b] > 0 { // endgame duplicate still out: cancel it
		d.cancelOthers(p, ps, key)
	}
	if ps.nGot == len(ps.got) {
		d.pieces.finish(ps)
		d.pieces.verifying[ps.index] = true
		d.verify(ps)
	}
	d.fill(p)
}

// cancelOthers withdraws the other requests for a block that arrived.
func (d *downloader) cancelOthers(p *dlPeer, ps *pieceState, key uint64) {
	b := int(uint32(key)) / blockSize
	for _, q := range d.peers {
		if _, ok := q.inflight[key]; ok && q != p {
			delete(q.inflight, key)
			q.withdraw(key)
			ps.reqs[b]--
			q.out.sendMsg(wire.Cancel{Index: uint32(key >> 32), Begin: uint32(key), Length: ps.blockLen(b)})
		}
	}
}

// checkTimeouts frees the requests of a peer that stopped sending: others
// may fetch those blocks. A peer silent for long gets an error: drop it.
func (d *downloader) checkTimeouts(p *dlPeer, now time.Time) error {
	if len(p.inflight) == 0 {
		p.lastBlock = now
		return nil
	}
	idle := now.Sub(p.lastBlock)
	switch {
	case idle > d.drop:
		return protoErr("no block for %s with %d requests outstanding", idle.Round(time.Second), len(p.inflight))
	case idle > d.release:
		var b []byte
		for key := range p.inflight {
			b = appendCancel(b, key, d.pieces.geometry)
			d.pieces.release(p, key)
		}
		p.out.send(b)
		p.depth, p.snubbed = minDepth, true
	}
	return nil
}

// pieceDone: piece i verified. It reports false if it was had already.
func (d *downloader) pieceDone(i int) bool {
	if d.have.Has(i) {
		return false
	}
	d.have.Set(i)
	d.goalChanged(i, 1)
	if !d.wanted.Has(i) {
		return true
	}
	d.missing--
	for _, p := range d.peers {
		if p.has.Has(i) {
			p.wanted--
			d.updateInterest(p)
		}
	}
	return true
}

// pieceLost: piece i, verified before, was found bad on disk; it reports
// false if it was not had.
func (d *downloader) pieceLost(i int) bool {
	if i < 0 || i >= d.pieces.numPieces || !d.have.Has(i) {
		return false
	}
	d.have.Clear(i)
	d.goalChanged(i, -1)
	if !d.wanted.Has(i) {
		return true
	}
	d.missing++
	for _, p := range d.peers {
		if p.has.Has(i) {
			p.wanted++
			d.updateInterest(p)
		}
	}
	return true
}

// refill tops up every pipeline: a piece buffer just came free, and while
// they were all taken (pieceTable.full) no new piece could start.
func (d *downloader) refill() {
	for _, p := range d.peers {
		if len(p.inflight) < p.depth {
			d.fill(p)
		}
	}
}

// takePicks stores the picker's newest ranking for each peer.
func (d *downloader) takePicks(picks sdk.Picks, now time.Time) {
	for id, list := range picks {
		if p := d.peers[id]; p != nil {
			p.picks = list
			p.wantAfter = time.Time{}
			if len(list) < picksWanted {
				// The picker has no more for this peer now; ask again later
				// rather than on every block.
				p.wantAfter = now.Add(time.Second)
			}
			d.fill(p)
		}
	}
}

func appendRequest(b []byte, index, begin, length uint32) []byte {
	return wire.AppendMessage(b, wire.Request{Index: index, Begin: begin, Length: length})
}

func appendCancel(b []byte, key uint64, g geometry) []byte {
	index, begin := uint32(key>>32), uint32(key)
	length := uint32(min(blockSize, g.size(int(index))-int64(begin)))
	return wire.AppendMessage(b, wire.Cancel{Index: index, Begin: begin, Length: length})
}
