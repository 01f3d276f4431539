package session

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/torrent-dev/torrent/sdk"
)

// errNotDownloading: the client is stopping (or never started), so the
// pieces will not come. It is sdk.ErrUnavailable, the one error for data
// that will not come, on either side of the plugin protocol.
var errNotDownloading = fmt.Errorf("the client is not downloading: %w", sdk.ErrUnavailable)

// readers tracks the pieces in-flight reads wait for; their union, in the
// order the reads came, then the windows of sequential readers (streams,
// stream.go), is the swarm's urgent set (swarm.SetUrgent): first the
// pieces of the reads' own bytes (blocked), then their readahead's (with
// those, waited), then the windows.
type readers struct {
	mu      sync.Mutex
	next    int
	sets    map[int]readSet
	streams []stream // most recent first
	sent    []int    // the last union returned
}

// readSet is one waiting read's missing pieces: the first own of them
// hold its bytes, the rest its readahead.
type readSet struct {
	pieces []int
	own    int
}

func (r *readers) add(pieces []int, own int) (id int, all []int, blocked, waited int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sets == nil {
		r.sets = map[int]readSet{}
	}
	r.next++
	r.sets[r.next] = readSet{pieces: pieces, own: own}
	all, blocked, waited = r.unionLocked()
	return r.next, all, blocked, waited
}

func (r *readers) remove(id int) (all []int, blocked, waited int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sets, id)
	return r.unionLocked()
}

// unionLocked is the urgent set, how many of its first pieces hold the
// reads' own bytes, and how many with their readahead (the streams'
// windows follow).
func (r *readers) unionLocked() (all []int, blocked, waited int) {
	ids := make([]int, 0, len(r.sets))
	for id := range r.sets {
		ids = append(ids, id)
	}
	slices.Sort(ids) // oldest read first
	seen := map[int]bool{}
	var out []int
	add := func(pieces []int) {
		for _, p := range pieces {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	for _, id := range ids {
		add(r.sets[id].pieces[:r.sets[id].own])
	}
	blocked = len(out)
	for _, id := range ids {
		add(r.sets[id].pieces)
	}
	waited = len(out)
	for _, st := range r.streams {
		add(st.pieces)
	}
	r.sent = out
	return out, blocked, waited
}

// ReadAt reads torrent bytes at off, waiting until their pieces are
// verified; the pieces, then those of the next readahead bytes, become
// urgent meanwhile. Cancelling ctx cancels the wait.
func (s *Session) ReadAt(ctx context.Context, p []byte, off, readahead int64) (int, error) {
	m := s.Meta()
	if m == nil {
		return 0, fmt.Errorf("read at %d: the torrent's metadata is not known yet", off)
	}
	info := &m.Info
	if off < 0 || off >= info.Length && len(p) > 0 {
		return 0, fmt.Errorf("read at %d: outside the torrent's %d bytes", off, info.Length)
	}
	p = p[:min(int64(len(p)), info.Length-off)]
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.waitPieces(ctx, off, int64(len(p)), readahead); err != nil {
		return 0, err
	}
	n, err := s.store.ReadAt(p, off)
	s.asked.read.Add(int64(n))
	return n, err
}

// waitPieces waits until the pieces of bytes [off, off+n) are verified.
func (s *Session) waitPieces(ctx context.Context, off, n, readahead int64) error {
	info := &s.Meta().Info // known: ReadAt checked
	all := func(has func(int) bool) bool { return info.HasRange(off, n, has) }
	select {
	case <-s.ready: // the start-up check is over
	case <-ctx.Done():
		return ctx.Err()
	}
	sw := s.swarm.Load()
	if sw == nil {
		if have := s.checked.Load(); have != nil && all(have.Has) {
			return nil // complete at start: no swarm was needed
		}
		return errNotDownloading
	}
	first, last := info.PieceRange(off, n)
	end := min(info.NumPieces()-1, last+int(readahead/info.PieceLength)+1)
	s.wantAhead(sw, first, end)
	if all(sw.HasPiece) {
		s.keepAhead(sw, off, n, last, end)
		return nil
	}
	var want []int
	own := 0
	for i := first; i <= end; i++ {
		if !sw.HasPiece(i) {
			want = append(want, i)
			if i <= last {
				own++
			}
		}
	}
	id, urgent, blocked, waited := s.readers.add(want, own)
	sw.SetUrgent(urgent, blocked, waited)
	defer func() { sw.SetUrgent(s.readers.remove(id)) }()
	for {
		changed := sw.PieceChanged()
		if all(sw.HasPiece) {
			s.keepAhead(sw, off, n, last, end)
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-sw.Stopped():
			if all(sw.HasPiece) {
				return nil
			}
			return errNotDownloading
		}
	}
}

// Complete reports whether every piece of [off, off+n) is verified.
func (s *Session) Complete(off, n int64) bool {
	m := s.Meta()
	if m == nil {
		return n <= 0
	}
	info := &m.Info
	if sw := s.swarm.Load(); sw != nil {
		return info.HasRange(off, n, sw.HasPiece)
	}
	have := s.checked.Load()
	return n <= 0 || have != nil && info.HasRange(off, n, have.Has)
}
