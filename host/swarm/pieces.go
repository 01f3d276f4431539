package swarm

import (
	"net/netip"
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
	askedAt     []time.Time // per block, when its first outstanding request was made
	nGot        int
	unrequested int          // blocks neither received nor requested
	from        []netip.Addr // per block, the IP that sent it
	solo        sdk.PeerID   // nonzero: only this peer fetches it (ban.go)
	hashed      bool         // verified; its write failed and waits for a retry
}

func (ps *pieceState) blockLen(b int) uint32 {
	return uint32(min(blockSize, len(ps.buf)-b*blockSize))
}

// geometry is the torrent's layout; it never changes, so any goroutine
// may read it.
type geometry struct {
	numPieces   int
	pieceLength int64
	totalLength int64
}

func (g geometry) size(i int) int64 {
	if i == g.numPieces-1 {
		return g.totalLength - int64(i)*g.pieceLength
	}
	return g.pieceLength
}

// offset is where piece i begins in the torrent's data.
func (g geometry) offset(i int) int64 { return int64(i) * g.pieceLength }

// pieceTable is the set of pieces in flight.
type pieceTable struct {
	geometry
	active    map[int]*pieceState
	order     []*pieceState // active pieces, oldest first: finishing them first frees memory
	verifying map[int]bool  // complete, hash check or write under way
	memory    int64         // pieceMemory; only tests change it
	// free holds piece buffers for reuse. Unlike a sync.Pool it survives
	// garbage collections, so the same few buffers serve the whole
	// download instead of a new batch of garbage per GC cycle.
	free [][]byte
}

func newPieceTable(g geometry) *pieceTable {
	return &pieceTable{geometry: g, active: make(map[int]*pieceState), verifying: make(map[int]bool), memory: pieceMemory}
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
func (t *pieceTable) budget() int64 { return max(t.memory, minPieces*t.pieceLength) }

// full says no new piece may start now.
func (t *pieceTable) full() bool {
	return int64(len(t.active)+len(t.verifying))*t.pieceLength >= t.budget()
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
	ps := &pieceState{index: i, buf: buf, reqs: make([]uint8, nb), got: make([]bool, nb), askedAt: make([]time.Time, nb), unrequested: nb,
		from: make([]netip.Addr, nb)}
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
func (t *pieceTable) release(p *dlPeer, key uint64) {
	delete(p.inflight, key)
	p.withdraw(key) // its block may still arrive: see gotBlock
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
func (t *pieceTable) releaseAll(p *dlPeer) {
	for key := range p.inflight {
		t.release(p, key)
	}
}
