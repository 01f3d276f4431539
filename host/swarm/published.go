package swarm

import (
	"sync"
	"sync/atomic"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// published is all of the swarm's state that other goroutines may read:
// the verified pieces (torfs reads, the disk checker), the stats snapshot
// and whether Run has returned. Only the run loop writes it.
type published struct {
	mu      sync.RWMutex
	have    bitfield.Bitfield // verified pieces
	changed chan struct{}     // closed and replaced whenever a piece is verified
	stopped chan struct{}     // closed when Run has returned
	stats   atomic.Pointer[Stats]
}

func newPublished(have bitfield.Bitfield) *published {
	return &published{have: have.Clone(), changed: make(chan struct{}), stopped: make(chan struct{})}
}

// HasPiece reports whether piece i is verified; safe from any goroutine.
func (pb *published) HasPiece(i int) bool {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	return pb.have.Has(i)
}

// PieceChanged is closed the next time a piece is verified (or the swarm
// stops).
func (pb *published) PieceChanged() <-chan struct{} {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	return pb.changed
}

// setHave publishes piece i as verified and wakes its waiters.
func (pb *published) setHave(i int) {
	pb.mu.Lock()
	pb.have.Set(i)
	close(pb.changed)
	pb.changed = make(chan struct{})
	pb.mu.Unlock()
}

// clearHave: piece i was found bad on disk; readers wait for it again.
func (pb *published) clearHave(i int) {
	pb.mu.Lock()
	pb.have.Clear(i)
	pb.mu.Unlock()
}

func (pb *published) stop() {
	pb.mu.Lock()
	close(pb.stopped)
	pb.mu.Unlock()
}

// Stopped is closed when Run has returned.
func (pb *published) Stopped() <-chan struct{} { return pb.stopped }

// Stats returns the latest snapshot; safe from any goroutine.
func (pb *published) Stats() Stats { return *pb.stats.Load() }

// SetUrgent replaces the pieces readers wait for, most urgent first: they
// are requested before anything else and the picker is told. The first
// blocked of them hold the bytes a read is blocked on, the first waited
// those and the reads' readahead; the rest are kept ahead of readers (a
// stream's window) and get no copies (requests.go). Safe from any
// goroutine; only the newest set matters.
func (s *Swarm) SetUrgent(pieces []int, blocked, waited int) {
	u := urgentSet{pieces: pieces, blocked: blocked, waited: waited}
	for {
		select {
		case s.urgentCh <- u:
			return
		default:
		}
		select {
		case <-s.urgentCh: // drop the older set
		default:
		}
	}
}

// urgentSet is one SetUrgent's pieces for the run loop.
type urgentSet struct {
	pieces          []int
	blocked, waited int
}
