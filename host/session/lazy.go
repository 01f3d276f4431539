package session

import (
	"sync"
	"sync/atomic"

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
// is handed on once, and what readers read: together they bound what the
// session fetches (LazyStats).
type asked struct {
	mu    sync.Mutex
	bf    bitfield.Bitfield
	bytes atomic.Int64 // of the pieces in bf
	read  atomic.Int64 // bytes ReadAt returned
}

// LazyStats is what a lazy session's readers read and what that asked
// for, this session.
type LazyStats struct {
	Read int64 // bytes readers read through the mount
	// Asked is the bytes of the pieces reads and their readahead made
	// wanted that were not on disk then: the most the swarm fetches.
	Asked int64
}

// LazyStats says what readers read and asked for; ok is false unless the
// session is lazy.
func (s *Session) LazyStats() (st LazyStats, ok bool) {
	if !s.opts.Lazy {
		return LazyStats{}, false
	}
	return LazyStats{Read: s.asked.read.Load(), Asked: s.asked.bytes.Load()}, true
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
	info := &s.Meta().Info
	for i := first; i <= end; i++ {
		if !s.asked.bf.Has(i) && !sw.HasPiece(i) {
			s.asked.bf.Set(i)
			s.asked.bytes.Add(info.PieceSize(i))
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
