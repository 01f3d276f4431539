package swarm

import (
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Readers outside the loop (torfs reads) see verified pieces through a
// copy of the have set guarded by haveMu, and wait on haveCh, which is
// closed and replaced whenever a piece is verified.

// HasPiece reports whether piece i is verified; safe from any goroutine.
func (s *Swarm) HasPiece(i int) bool {
	s.haveMu.RLock()
	defer s.haveMu.RUnlock()
	return s.haveView.Has(i)
}

// PieceChanged is closed the next time a piece is verified (or the swarm
// stops).
func (s *Swarm) PieceChanged() <-chan struct{} {
	s.haveMu.RLock()
	defer s.haveMu.RUnlock()
	return s.haveCh
}

// Stopped is closed when Run has returned.
func (s *Swarm) Stopped() <-chan struct{} { return s.stopped }

func (s *Swarm) publishHave(i int) {
	s.haveMu.Lock()
	s.haveView.Set(i)
	close(s.haveCh)
	s.haveCh = make(chan struct{})
	s.haveMu.Unlock()
}

// unpublishHave: piece i was found bad on disk; readers wait for it again.
func (s *Swarm) unpublishHave(i int) {
	s.haveMu.Lock()
	s.haveView.Clear(i)
	s.haveMu.Unlock()
}

func newHaveView(have bitfield.Bitfield) (bitfield.Bitfield, chan struct{}) {
	return have.Clone(), make(chan struct{})
}

// SetUrgent replaces the pieces readers wait for, most urgent first: they
// are requested before anything else and the picker is told. Safe from any
// goroutine; only the newest set matters.
func (s *Swarm) SetUrgent(pieces []int) {
	for {
		select {
		case s.urgentCh <- pieces:
			return
		default:
		}
		select {
		case <-s.urgentCh: // drop the older set
		default:
		}
	}
}
