package swarm

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/torrent-dev/torrent/sdk"
)

// verifyResult is a completed piece after its hash check and write.
type verifyResult struct {
	ps  *pieceState
	ok  bool
	err error // the piece verified but its write failed: the disk, not the peer, is at fault
}

// verifier hashes and writes complete pieces on every core, off the run
// loop. Its queues never block either side: the loop adds work without
// waiting, and workers hand results back the same way.
type verifier struct {
	data    pieceData
	cache   *upCache // pieces written are dropped from it
	mu      sync.Mutex
	cond    *sync.Cond
	work    []*pieceState
	results []verifyResult
	closed  bool
	ready   chan struct{} // a result is waiting
	// writing serialises the workers' writes: hashing runs on every core,
	// but concurrent buffered writes to one file contend for its inode
	// lock in the kernel, which spins: two writers of 1 GiB took 50% more
	// system time than one, and no less wall time.
	writing sync.Mutex
}

func newVerifier(data pieceData, cache *upCache) *verifier {
	v := &verifier{data: data, cache: cache, ready: make(chan struct{}, 1)}
	v.cond = sync.NewCond(&v.mu)
	return v
}

func (v *verifier) add(ps *pieceState) {
	v.mu.Lock()
	v.work = append(v.work, ps)
	v.mu.Unlock()
	v.cond.Signal()
}

func (v *verifier) close() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	v.cond.Broadcast()
}

// take returns the results so far.
func (v *verifier) take() []verifyResult {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.results
	v.results = nil
	return r
}

func (v *verifier) next() *pieceState {
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.work) == 0 && !v.closed {
		v.cond.Wait()
	}
	// On close the queue is still worked off: those pieces' data reaches
	// the disk, where the next start's check finds it.
	if len(v.work) == 0 {
		return nil
	}
	ps := v.work[0]
	v.work = v.work[1:]
	return ps
}

func (v *verifier) done(r verifyResult) {
	v.mu.Lock()
	v.results = append(v.results, r)
	v.mu.Unlock()
	select {
	case v.ready <- struct{}{}:
	default:
	}
}

func numVerifiers() int { return runtime.NumCPU() }

// run is one worker: it hashes and writes pieces until close.
func (v *verifier) run() {
	for {
		ps := v.next()
		if ps == nil {
			return
		}
		// A piece whose write failed before comes back verified: only
		// the write is tried again.
		r := verifyResult{ps: ps, ok: ps.hashed || v.data.st.CheckPiece(ps.index, ps.buf)}
		if r.ok {
			v.writing.Lock()
			_, err := v.data.st.WriteAt(ps.buf, v.data.geo.offset(ps.index))
			v.writing.Unlock()
			v.cache.invalidate(ps.index)
			if err != nil {
				r.err = fmt.Errorf("write piece %d: %w", ps.index, err)
			}
		}
		v.done(r)
	}
}

// pieceVerified records a verified (or failed) piece.
func (s *Swarm) pieceVerified(r verifyResult) error {
	ps := r.ps
	if r.err != nil {
		s.stall.writeFailed(ps, r.err) // keeps ps, still verifying, for a retry
		return nil
	}
	defer s.dl.pieces.recycle(ps.buf)
	delete(s.dl.pieces.verifying, ps.index)
	if r.ok {
		// Last: a stall it ends refills the pipelines, which must see
		// this piece as had, not as free to start again.
		defer s.stall.wrote(ps)
	}
	i := ps.index
	if !r.ok {
		s.picker.post(sdk.PieceFailed{Piece: i})
		s.counters.wasted += int64(len(ps.buf))
		s.log.Debug("piece failed verification", "piece", i)
		s.ban(s.suspects.failed(ps)...)
		s.dl.refill()
		return nil
	}
	s.ban(s.suspects.good(ps)...)
	s.webPieceGood(ps)
	if !s.dl.pieceDone(i) {
		return nil
	}
	s.published.setHave(i)
	s.counters.verified += int64(len(ps.buf))
	s.picker.post(sdk.PieceDone{Piece: i})
	for _, p := range s.peers {
		if !p.dl.has.Has(i) {
			p.out.sendMsg(haveMsg(i))
		}
	}
	if s.dl.complete() {
		s.complete()
		return nil
	}
	s.dl.refill()
	return nil
}

// complete: everything is verified. Seeds have nothing to give us, and we
// nothing to them, so they are let go. A seed can complete more than once:
// pieces found changed on disk are fetched again.
func (s *Swarm) complete() {
	select {
	case <-s.done:
		s.log.Info("every wanted piece is verified again") // after a change on disk, or a read of a skipped file
	default:
		s.log.Info("download complete")
		close(s.done)
	}
	for _, p := range s.peers {
		if p.dl.has.Full() {
			s.dropPeer(p, errBothComplete)
		}
	}
}
