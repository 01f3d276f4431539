package swarm

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/torrent-dev/torrent/host/ratelimit"
	"github.com/torrent-dev/torrent/host/wire"
)

// upReq is a block a peer asked us for.
type upReq struct{ index, begin, length uint32 }

// outbox is what the run loop hands a peer's writer: encoded control
// messages and blocks to upload. The writer sends everything queued in one
// vectored write.
type outbox struct {
	mu   sync.Mutex
	ctrl []byte
	// reqs[head:] are the queued uploads in order; a cancelled one stays
	// as a hole (length 0) that take skips. at finds a queued upload by
	// its sequence number (head counts those taken), so a Cancel costs
	// the same with 2,048 uploads queued as with one, and a peer that
	// sends nothing but Cancels cannot make the run loop scan its queue.
	reqs   []upReq
	head   int
	taken  int // sequence number of reqs[head]
	at     map[upReq]int
	live   int // queued, not cancelled
	closed bool
	wake   chan struct{}
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1), at: map[upReq]int{}} }

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// send queues encoded messages.
func (o *outbox) send(b []byte) {
	o.mu.Lock()
	o.ctrl = append(o.ctrl, b...)
	o.mu.Unlock()
	o.signal()
}

// sendMsg queues one message without an intermediate buffer.
func (o *outbox) sendMsg(m wire.Message) {
	o.mu.Lock()
	o.ctrl = wire.AppendMessage(o.ctrl, m)
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) upload(r upReq) {
	o.mu.Lock()
	o.at[r] = o.taken + len(o.reqs) - o.head // a second copy: a Cancel takes back the last
	o.reqs = append(o.reqs, r)
	o.live++
	o.mu.Unlock()
	o.signal()
}

// queued is how many uploads wait for the writer.
func (o *outbox) queued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.live
}

// unsent is how many bytes of control messages wait for the writer.
func (o *outbox) unsent() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.ctrl)
}

// cancel drops a queued upload that has not been sent yet.
func (o *outbox) cancel(r upReq) {
	o.mu.Lock()
	defer o.mu.Unlock()
	seq, ok := o.at[r]
	if !ok {
		return
	}
	delete(o.at, r)
	if i := o.head + seq - o.taken; i >= o.head && i < len(o.reqs) && o.reqs[i] == r {
		o.reqs[i].length = 0
		o.live--
	}
}

// shut closes the outbox: the writer stops at its next wake-up, and what
// is still queued is never sent.
func (o *outbox) shut() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.signal()
}

// uploadBatch is the most uploads the writer takes at once. The rest stay
// queued, where a Cancel still reaches them: a peer that cancels bulk
// requests to ask for a piece a reader waits for (a streaming client, or
// ours) gets it after at most this much data, not after its whole queue,
// which at a capped rate can be seconds.
const uploadBatch = 16

// take gives the writer the control messages and up to uploadBatch
// uploads, in exchange for its spare buffers; more says uploads remain.
func (o *outbox) take(ctrl []byte, reqs []upReq) (c []byte, r []upReq, closed, more bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, o.ctrl = o.ctrl, ctrl[:0]
	r = reqs[:0]
	for ; len(r) < uploadBatch && o.head < len(o.reqs); o.head, o.taken = o.head+1, o.taken+1 {
		q := o.reqs[o.head]
		if q.length == 0 {
			continue // cancelled
		}
		if o.at[q] == o.taken {
			delete(o.at, q)
		}
		r = append(r, q)
		o.live--
	}
	// Shift the queue down once half of it is taken: each upload is
	// moved at most once on average.
	if o.head > len(o.reqs)/2 {
		n := copy(o.reqs, o.reqs[o.head:])
		o.reqs, o.head = o.reqs[:n], 0
	}
	return c, r, o.closed, o.live > 0
}

// peerWriter is a peer's writing goroutine: it sends what the run loop
// queued in the outbox, control messages and uploads, reading the
// uploaded blocks from disk itself.
type peerWriter struct {
	c     *peerConn
	fast  bool // BEP 6: refused requests get a Reject
	idle  time.Duration
	lim   *ratelimit.Limiter
	cache *upCache   // the swarm's pieces read for upload
	disk  *diskCheck // told of pieces that cannot be served

	// Scratch of this goroutine, kept between batches.
	ctrl  []byte
	reqs  []upReq
	piece *upPiece // the piece blocks are sent from, held until another is needed
	hdrs  []byte
	bufs  net.Buffers
}

func (w *peerWriter) run(ctx context.Context) {
	defer w.c.close()
	defer func() { w.cache.put(w.piece) }()
	keep := time.NewTimer(keepAliveGap)
	defer keep.Stop()
	for {
		select {
		case <-w.c.out.wake:
		case <-keep.C:
			w.c.out.sendMsg(wire.KeepAlive{})
			keep.Reset(keepAliveGap)
			continue
		case <-ctx.Done():
			return
		}
		var closed, more bool
		w.ctrl, w.reqs, closed, more = w.c.out.take(w.ctrl, w.reqs)
		if closed || w.sendBatch(ctx) != nil {
			return
		}
		if more {
			w.c.out.signal()
		}
		keep.Reset(keepAliveGap)
	}
}

// sendBatch sends the control messages and the uploads taken from the
// outbox, in as few writev calls as the piece cache allows.
func (w *peerWriter) sendBatch(ctx context.Context) error {
	w.bufs = append(w.bufs[:0], w.ctrl)
	w.hdrs = slices.Grow(w.hdrs[:0], 17*len(w.reqs)) // a piece header or a reject each: never reallocated below
	bad := -1                                        // a piece that failed to load in this batch
	for _, r := range w.reqs {
		if !w.holds(int(r.index)) && int(r.index) != bad {
			// The piece is about to be let go under queued slices: send them first.
			if err := w.writeOut(&w.bufs); err != nil {
				return err
			}
			w.hdrs = w.hdrs[:0]
			if err := w.loadPiece(int(r.index)); err != nil {
				bad = int(r.index)
				w.disk.bad(bad, err)
			}
		}
		at := len(w.hdrs)
		if int(r.index) == bad {
			// Never a block that is not the torrent's: a fast peer is
			// told at once, others time the request out.
			if w.fast {
				w.hdrs = wire.AppendMessage(w.hdrs, wire.Reject{Index: r.index, Begin: r.begin, Length: r.length})
				w.bufs = append(w.bufs, w.hdrs[at:])
			}
			continue
		}
		if err := w.lim.Wait(ctx, int(r.length)); err != nil {
			return err
		}
		w.hdrs = wire.AppendPieceHeader(w.hdrs, r.index, r.begin, int(r.length))
		w.bufs = append(w.bufs, w.hdrs[at:], w.piece.buf[r.begin:r.begin+r.length])
		w.c.uploaded.Add(int64(r.length))
	}
	return w.writeOut(&w.bufs)
}

// writeOut sends the queued buffers in one writev and resets the list.
func (w *peerWriter) writeOut(bufs *net.Buffers) error {
	if len(*bufs) == 0 || (len(*bufs) == 1 && len((*bufs)[0]) == 0) {
		*bufs = (*bufs)[:0]
		return nil
	}
	b := *bufs
	conn := w.c.conn
	conn.SetWriteDeadline(time.Now().Add(w.idle)) // a peer that stopped reading
	var err error
	if bw, ok := conn.(buffersWriter); ok {
		_, err = bw.WriteBuffers(&b)
	} else {
		_, err = b.WriteTo(conn)
	}
	*bufs = (*bufs)[:0]
	return err
}

// buffersWriter is a connection wrapped for MSE: net.Buffers uses writev
// only on net's own connections, so the wrapper batches writes itself.
type buffersWriter interface {
	WriteBuffers(*net.Buffers) (int64, error)
}

// holds says whether the writer holds piece index, still valid.
func (w *peerWriter) holds(index int) bool {
	return w.piece != nil && w.piece.index == index && !w.piece.stale.Load()
}

// loadPiece lets go of the piece held and takes piece index from the
// shared cache, which reads and hashes it if no writer did lately: what is
// sent is the torrent's data (see diskcheck.go).
func (w *peerWriter) loadPiece(index int) error {
	w.cache.put(w.piece)
	w.piece = nil
	p, err := w.cache.get(index)
	if err != nil {
		return fmt.Errorf("read piece %d for upload: %w", index, err)
	}
	w.piece = p
	return nil
}
