package swarm

import (
	"sync"
	"sync/atomic"
)

// upCache holds pieces read and hashed for upload, shared by every peer
// writer of the swarm: peers that ask for the same piece while it is
// cached cost one read and one hash (see diskcheck.go for why each piece
// read for upload is hashed), not one each.
//
// A writer holds the piece it sends from (get) until it needs another
// (put), so a piece in use is never reused under a queued write; others
// asking for it meanwhile share it. Pieces no writer holds stay cached, up
// to keep of them, most recently used last. Memory is therefore at most
// one piece per writer, as with a cache per writer, plus keep pieces.
type upCache struct {
	data pieceData
	keep int

	mu   sync.Mutex
	live map[int]*upPiece // held by a writer, loading, or kept
	idle []*upPiece       // live pieces no writer holds, least recently used first
	free [][]byte         // buffers of pieces dropped, for the next load

	loads atomic.Int64 // reads (and hashes) done: a test's count
}

// upPiece is one cached piece. buf and err are set before ready closes and
// never change after; refs, under upCache.mu.
type upPiece struct {
	index int
	ready chan struct{}
	buf   []byte
	err   error
	refs  int
	stale atomic.Bool // data written to the piece since: not to be taken again
}

// upCacheBytes bounds the pieces kept with no writer on them.
const upCacheBytes = 8 << 20

func newUpCache(data pieceData) *upCache {
	keep := max(1, min(8, upCacheBytes/max(1, int(data.geo.pieceLength))))
	return &upCache{data: data, keep: keep, live: map[int]*upPiece{}}
}

// get returns piece i, read and hashed once however many writers ask for
// it; the caller puts it back when done. An error is the read's or the
// hash check's (errChangedOnDisk); no data comes with it.
func (c *upCache) get(i int) (*upPiece, error) {
	c.mu.Lock()
	p := c.live[i]
	if p != nil {
		if p.refs == 0 {
			c.unidle(p)
		}
		p.refs++
		c.mu.Unlock()
		<-p.ready
	} else {
		p = &upPiece{index: i, ready: make(chan struct{}), refs: 1}
		c.live[i] = p
		var buf []byte
		if n := len(c.free); n > 0 {
			buf, c.free = c.free[n-1], c.free[:n-1]
		}
		c.mu.Unlock()
		c.loads.Add(1)
		err := c.data.readPiece(&buf, i)
		p.buf, p.err = buf, err
		if err != nil {
			c.invalidate(i) // the next ask reads again
		}
		close(p.ready)
	}
	if p.err != nil {
		c.put(p)
		return nil, p.err
	}
	return p, nil
}

// put gives back a piece from get; nil is ignored.
func (c *upCache) put(p *upPiece) {
	if p == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.refs--; p.refs > 0 {
		return
	}
	if p.stale.Load() || p.err != nil {
		c.recycle(p)
		return
	}
	c.idle = append(c.idle, p)
	if len(c.idle) > c.keep {
		old := c.idle[0]
		c.idle = c.idle[1:]
		delete(c.live, old.index)
		c.recycle(old)
	}
}

// invalidate drops piece i: data was written to it, or it was found bad on
// disk. Writers that hold it finish what they queued (it hashed right, so
// it is the torrent's data), then take it again.
func (c *upCache) invalidate(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.live[i]
	if p == nil {
		return
	}
	p.stale.Store(true)
	delete(c.live, i)
	if p.refs == 0 {
		c.unidle(p)
		c.recycle(p)
	}
}

// unidle takes p out of the idle list; under mu.
func (c *upCache) unidle(p *upPiece) {
	for j, q := range c.idle {
		if q == p {
			c.idle = append(c.idle[:j], c.idle[j+1:]...)
			return
		}
	}
}

// recycle keeps the buffer of a piece nobody holds any more; under mu.
func (c *upCache) recycle(p *upPiece) {
	if p.buf != nil && len(c.free) < c.keep {
		c.free = append(c.free, p.buf[:0])
	}
	p.buf = nil
}
