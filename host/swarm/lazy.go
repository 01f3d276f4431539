package swarm

import (
	"sync"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// A lazy swarm (Config.Lazy) fetches only what it is asked for: a piece a
// reader waits for (SetUrgent) or reads ahead into (Want). The download
// is complete, and the swarm a seed, only once every piece of
// Config.Wanted (the goal) is verified; until then it stays a leecher
// that uploads what it has.

// makeLazy turns the downloader's wanted set into the goal and wants
// nothing yet.
func (d *downloader) makeLazy() {
	d.lazy, d.goal, d.goalMissing = true, d.wanted, d.missing
	d.wanted, d.missing = bitfield.New(d.pieces.numPieces), 0
}

// complete says every piece the download is for is verified: the wanted
// ones, or for a lazy swarm the goal and what readers wait for. A lazy
// swarm whose goal (-only) is had still fetches what is read of other
// files: complete, it would let its seeds go and leave those reads
// waiting.
func (d *downloader) complete() bool {
	if d.lazy {
		return d.goalMissing == 0 && d.missing == 0
	}
	return d.missing == 0
}

// goalChanged keeps goalMissing as piece i is verified (+1) or lost (-1).
func (d *downloader) goalChanged(i, verified int) {
	if d.lazy && d.goal.Has(i) {
		d.goalMissing -= verified
	}
}

// wants gathers the pieces Want was given until the run loop takes them.
type wants struct {
	mu     sync.Mutex
	pieces []int
	ready  chan struct{} // a token while pieces is not empty
}

// Want makes pieces wanted without making them urgent: a lazy mount's
// readahead, fetched once asked for. Safe from any goroutine; it never
// blocks.
func (s *Swarm) Want(pieces []int) {
	s.wants.mu.Lock()
	s.wants.pieces = append(s.wants.pieces, pieces...)
	s.wants.mu.Unlock()
	select {
	case s.wants.ready <- struct{}{}:
	default:
	}
}

// takeWants makes the pieces Want was given wanted (run loop).
func (s *Swarm) takeWants() {
	s.wants.mu.Lock()
	pieces := s.wants.pieces
	s.wants.pieces = nil
	s.wants.mu.Unlock()
	added := false
	for _, i := range pieces {
		if i >= 0 && i < s.dl.pieces.numPieces && !s.dl.wanted.Has(i) {
			s.dl.want(i)
			added = true
		}
	}
	if added {
		s.dl.refill()
	}
}
