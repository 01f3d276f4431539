package session

import (
	"slices"
	"time"

	"github.com/torrent-dev/torrent/host/swarm"
)

// Streams: once a read returns, the pieces just ahead of it stay urgent,
// behind those that reads wait for, until the same reader reads on (its
// next read, which starts where this one ended, moves them) or falls
// silent. A sequential reader, a video player, then finds its next pieces
// fetched first and in order instead of waiting at each piece boundary
// for one fetched among the rest. Readers are told apart by where their
// last read ended, so two keep a window each.
const (
	maxStreams  = 8
	streamAhead = 4 << 20 // bytes kept urgent ahead of a reader
	streamIdle  = 5 * time.Second
)

// stream is one sequential reader's window.
type stream struct {
	next   int64 // where its last read ended
	pieces []int // missing pieces just ahead of it, in order
	seen   time.Time
}

// readOn records that a read of [off, off+n) returned with the missing
// pieces ahead given; it returns the urgent set, how many of it hold
// reads' own bytes and how many with their readahead (unionLocked), and
// whether it changed.
func (r *readers) readOn(off, n int64, ahead []int, now time.Time) (all []int, blocked, waited int, changed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := slices.IndexFunc(r.streams, func(st stream) bool { return st.next == off })
	if k < 0 {
		r.streams = append(r.streams, stream{})
		k = len(r.streams) - 1
	}
	r.streams[k] = stream{next: off + n, pieces: ahead, seen: now}
	// Most recent first; the idle and the oldest beyond maxStreams go.
	slices.SortStableFunc(r.streams, func(a, b stream) int { return b.seen.Compare(a.seen) })
	r.streams = slices.DeleteFunc(r.streams, func(st stream) bool { return now.Sub(st.seen) > streamIdle })
	r.streams = r.streams[:min(len(r.streams), maxStreams)]
	old := r.sent
	all, blocked, waited = r.unionLocked()
	return all, blocked, waited, !slices.Equal(old, all)
}

// keepAhead makes the pieces after a returned read's last one, up to end,
// its stream's window (at most streamAhead of them).
func (s *Session) keepAhead(sw *swarm.Swarm, off, n int64, last, end int) {
	pl := s.Meta().Info.PieceLength
	var ahead []int
	for i := last + 1; i <= min(end, last+max(1, int(streamAhead/pl))); i++ {
		if !sw.HasPiece(i) {
			ahead = append(ahead, i)
		}
	}
	if all, blocked, waited, changed := s.readers.readOn(off, n, ahead, time.Now()); changed {
		sw.SetUrgent(all, blocked, waited)
	}
}
