package swarm

import (
	"time"

	"github.com/torrent-dev/torrent/sdk"
)

// pieceState is a piece being downloaded: its buffer fills block by block
// and goes to verification when complete.
type pieceState struct {
	index       int
	buf         []byte
	reqs        []uint8 // outstanding requests per block
	got         []bool
	nGot        int
	unrequested int // blocks neither received nor requested
	from        map[sdk.PeerID]*peer
	hashed      bool // verified; its write failed and waits for a retry
}

func (ps *pieceState) blockLen(b int) uint32 {
	return uint32(min(blockSize, len(ps.buf)-b*blockSize))
}

// pieceTable is the set of pieces in flight plus the torrent's geometry.
type pieceTable struct {
	numPieces   int
	pieceLength int64
	totalLength int64
	active      map[int]*pieceState
	order       []*pieceState // active pieces, oldest first: finishing them first frees memory
	verifying   map[int]bool  // complete, hash check or write under way
	// free holds piece buffers for reuse. Unlike a sync.Pool it survives
	// garbage collections, so the same few buffers serve the whole
	// download instead of a new batch of garbage per GC cycle.
	free [][]byte
}

func newPieceTable(n int, pieceLength, total int64) *pieceTable {
	t := &pieceTable{numPieces: n, pieceLength: pieceLength, totalLength: total, active: make(map[int]*pieceState), verifying: make(map[int]bool)}
	return t
}

// Piece buffers held at once (being downloaded, or waiting for their hash
// check and write) are bounded so memory stays flat however big the torrent:
// when the disk falls behind the network, new pieces wait instead of
// piling up. A few pieces are always allowed, however long they are.
const (
	pieceMemory = 16 << 20
	minPieces   = 4
)

// budget is how many bytes of piece buffers may be held at once.
func (t *pieceTable) budget() int64 { return max(pieceMemory, minPieces*t.pieceLength) }

// full says no new piece may start now.
func (t *pieceTable) full() bool {
	return int64(len(t.active)+len(t.verifying))*t.pieceLength >= t.budget()
}

func (t *pieceTable) size(i int) int64 {
	if i == t.numPieces-1 {
		return t.totalLength - int64(i)*t.pieceLength
	}
	return t.pieceLength
}

func (t *pieceTable) start(i int) *pieceState {
	n := t.size(i)
	var buf []byte
	if k := len(t.free); k > 0 {
		buf, t.free = t.free[k-1][:n], t.free[:k-1]
	} else {
		buf = make([]byte, n, t.pieceLength)
	}
	nb := int((n + blockSize - 1) / blockSize)
	ps := &pieceState{index: i, buf: buf, reqs: make([]uint8, nb), got: make([]bool, nb), unrequested: nb,
		from: make(map[sdk.PeerID]*peer, 1)}
	t.active[i] = ps
	t.order = append(t.order, ps)
	return ps
}

// finish removes a piece from the active set; its buffer goes back with
// recycle once verification is done with it.
func (t *pieceTable) finish(ps *pieceState) {
	delete(t.active, ps.index)
	for i, q := range t.order {
		if q == ps {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
}

func (t *pieceTable) recycle(buf []byte) {
	// Past the budget (urgent pieces may exceed it) buffers go to the GC.
	if int64(cap(buf)) == t.pieceLength && int64(len(t.free)+1)*t.pieceLength <= t.budget() {
		t.free = append(t.free, buf[:cap(buf)])
	}
}

// release forgets one outstanding request of p.
func (t *pieceTable) release(p *peer, key uint64) {
	delete(p.inflight, key)
	ps := t.active[int(key>>32)]
	if ps == nil {
		return
	}
	b := int(uint32(key)) / blockSize
	if ps.reqs[b] > 0 {
		ps.reqs[b]--
		if ps.reqs[b] == 0 && !ps.got[b] {
			ps.unrequested++
		}
	}
	if ps.nGot == 0 && ps.unrequested == len(ps.got) {
		t.finish(ps) // nothing of it arrived: don't pin its buffer
		t.recycle(ps.buf)
	}
}

// releaseAll forgets every outstanding request of p.
func (t *pieceTable) releaseAll(p *peer) {
	for key := range p.inflight {
		t.release(p, key)
	}
}

// Pipeline sizing: enough requests to cover about a second of the peer's
// rate, within the peer's advertised limit.
const (
	picksWanted  = 32 // pieces asked of the picker per peer at a time
	initialDepth = 64
	minDepth     = 16
	maxDepth     = 1024
)

func (p *peer) adjustDepth() {
	want := int(p.rates.down / blockSize) // one second's worth
	p.depth = min(max(want, minDepth, initialDepth/2), maxDepth, max(p.reqq, minDepth))
}

// fillRequests tops up p's request pipeline.
func (s *Swarm) fillRequests(p *peer) {
	if p.choked || s.missing == 0 || s.stall.active() {
		return // a stalled disk takes no more data
	}
	batch := s.reqs[:0]
	now := time.Now()
	for len(p.inflight) < p.depth {
		ps := s.nextPiece(p)
		if ps == nil {
			break
		}
		for b := range ps.got {
			if len(p.inflight) >= p.depth {
				break
			}
			if ps.got[b] || ps.reqs[b] > 0 {
				continue
			}
			batch = s.request(p, ps, b, batch, now)
		}
	}
	if len(p.inflight) < p.depth && s.endgame() {
		batch = s.endgameRequests(p, batch, now)
	}
	if len(batch) > 0 {
		p.out.send(batch)
	}
	s.reqs = batch[:0]
	// An answer can be lost (the picker restarts, or a newer answer
	// replaces it), so an unanswered Want is repeated after a while.
	if len(p.picks) < 4 && p.wanted > 0 && now.After(p.wantAfter) {
		p.wantAfter = now.Add(2 * time.Second)
		s.wants = append(s.wants, sdk.Want{Peer: p.id, N: picksWanted})
	}
}

func (s *Swarm) request(p *peer, ps *pieceState, b int, batch []byte, now time.Time) []byte {
	begin := uint32(b * blockSize)
	if ps.reqs[b] == 0 {
		ps.unrequested--
	}
	ps.reqs[b]++
	p.inflight[blockKey(uint32(ps.index), begin)] = now
	return appendRequest(batch, uint32(ps.index), begin, ps.blockLen(b))
}

// nextPiece is the piece p should fetch blocks of next: urgent pieces
// first, then started pieces, then the picker's ranking, then any piece p
// has that we lack.
func (s *Swarm) nextPiece(p *peer) *pieceState {
	if ps := s.urgentPiece(p); ps != nil {
		return ps
	}
	for _, ps := range s.pieces.order {
		if ps.unrequested > 0 && p.has.Has(ps.index) {
			return ps
		}
	}
	if s.pieces.full() {
		return nil // pieceVerified fills the pipelines again
	}
	for len(p.picks) > 0 {
		i := p.picks[0]
		p.picks = p.picks[1:]
		if s.usable(p, i) {
			return s.pieces.start(i)
		}
	}
	if i := s.anyPiece(p); i >= 0 {
		return s.pieces.start(i)
	}
	return nil
}

func (s *Swarm) usable(p *peer, i int) bool {
	return i >= 0 && i < s.cfg.NumPieces && !s.have.Has(i) && p.has.Has(i) && s.pieces.active[i] == nil && !s.pieces.verifying[i]
}

// anyPiece keeps a peer busy while the picker's answer is on its way: a
// random missing piece the peer has.
func (s *Swarm) anyPiece(p *peer) int {
	n := s.cfg.NumPieces
	if n == 0 {
		return -1
	}
	off := s.rng.IntN(n)
	for k := range n {
		i := (off + k) % n
		if s.usable(p, i) {
			return i
		}
	}
	return -1
}

// endgame: every missing piece is in flight and fully requested.
func (s *Swarm) endgame() bool {
	if len(s.pieces.active)+len(s.pieces.verifying) < s.missing {
		return false
	}
	for _, ps := range s.pieces.order {
		if ps.unrequested > 0 {
			return false
		}
	}
	return true
}

// endgameRequests asks p for blocks others are already fetching, at most
// two requests per block; the first copy to arrive cancels the rest.
func (s *Swarm) endgameRequests(p *peer, batch []byte, now time.Time) []byte {
	for _, ps := range s.pieces.order {
		if !p.has.Has(ps.index) {
			continue
		}
		for b := range ps.got {
			if len(p.inflight) >= p.depth {
				return batch
			}
			key := blockKey(uint32(ps.index), uint32(b*blockSize))
			if _, mine := p.inflight[key]; ps.got[b] || mine || ps.reqs[b] >= 2 {
				continue
			}
			batch = s.request(p, ps, b, batch, now)
		}
	}
	return batch
}

// takePicks stores the picker's newest ranking for each peer.
func (s *Swarm) takePicks(picks sdk.Picks) {
	for id, list := range picks {
		if p := s.peers[id]; p != nil {
			p.picks = list
			p.wantAfter = time.Time{}
			if len(list) < picksWanted {
				// The picker has no more for this peer now; ask again later
				// rather than on every block.
				p.wantAfter = time.Now().Add(time.Second)
			}
			s.fillRequests(p)
		}
	}
}

// checkTimeouts frees the requests of a peer that stopped sending: others
// may fetch those blocks. A peer silent for long is dropped.
func (s *Swarm) checkTimeouts(p *peer, now time.Time) {
	if len(p.inflight) == 0 {
		p.lastBlock = now
		return
	}
	idle := now.Sub(p.lastBlock)
	switch {
	case idle > 60*time.Second:
		s.dropPeer(p, protoErr("no block for %s with %d requests outstanding", idle.Round(time.Second), len(p.inflight)))
	case idle > 20*time.Second:
		var b []byte
		for key := range p.inflight {
			b = appendCancel(b, key, s.pieces)
			s.pieces.release(p, key)
		}
		p.out.send(b)
		p.depth = minDepth
	}
}
