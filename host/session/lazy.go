package session

import (
	"sync"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// A lazy session (Options.Lazy) is a mount that fetches only what readers
// read and read ahead into: the swarm starts wanting nothing; a read makes
// its pieces urgent (waitPieces) and its readahead wanted (wantAhead),
// even when the read itself needs no wait, so a sequential reader finds
// the next window on its way. What is fetched stays on disk and is
// seeded; the download is complete only once every chosen piece is there.

// asked is the pieces a lazy session has handed to Swarm.Want, so each
// is handed on once.
type asked struct {
	mu sync.Mutex
	bf bitfield.Bitfield
}

// wantAhead makes pieces first..end wanted in a lazy session.
func (s *Session) wantAhead(sw *swarm.Swarm, first, end int) {
	if !s.opts.Lazy {
		return
	}
	s.asked.mu.Lock()
	if s.asked.bf.Len() == 0 {
		s.asked.bf = bitfield.New(s.Meta().Info.NumPieces())
	}
	var want []int
	for i := first; i <= end; i++ {
		if !s.asked.bf.Has(i) && !sw.HasPiece(i) {
			s.asked.bf.Set(i)
			want = append(want, i)
		}
	}
	s.asked.mu.Unlock()
	if len(want) > 0 {
		sw.Want(want)
	}
}

// pickerWanted is what the picker is told the user wants: for a lazy
// session nothing, as readers' pieces come to it as urgent ones.
func (s *Session) pickerWanted(n int) bitfield.Bitfield {
	if s.opts.Lazy {
		return bitfield.New(n)
	}
	return s.Sel().Wanted()
}
