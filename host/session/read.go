package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrUnavailable is a read that cannot be served: the client is stopping
// (or never started), so the pieces will not come.
var ErrUnavailable = errors.New("data unavailable: the client is not downloading")

// readers tracks the pieces in-flight reads wait for; their union, in the
// order the reads came, is the swarm's urgent set.
type readers struct {
	mu   sync.Mutex
	next int
	sets map[int][]int
}

func (r *readers) add(pieces []int) (id int, all []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sets == nil {
		r.sets = map[int][]int{}
	}
	r.next++
	r.sets[r.next] = pieces
	return r.next, r.unionLocked()
}

func (r *readers) remove(id int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sets, id)
	return r.unionLocked()
}

func (r *readers) unionLocked() []int {
	ids := make([]int, 0, len(r.sets))
	for id := range r.sets {
		ids = append(ids, id)
	}
	slices.Sort(ids) // oldest read first
	seen := map[int]bool{}
	var out []int
	for _, id := range ids {
		for _, p := range r.sets[id] {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// ReadAt reads torrent bytes at off, waiting until their pieces are
// verified; the pieces, then those of the next readahead bytes, become
// urgent meanwhile. Cancelling ctx cancels the wait.
func (s *Session) ReadAt(ctx context.Context, p []byte, off, readahead int64) (int, error) {
	info := &s.Meta.Info
	if off < 0 || off >= info.Length && len(p) > 0 {
		return 0, fmt.Errorf("read at %d: outside the torrent's %d bytes", off, info.Length)
	}
	p = p[:min(int64(len(p)), info.Length-off)]
	if len(p) == 0 {
		return 0, nil
	}
	first, last := int(off/info.PieceLength), int((off+int64(len(p))-1)/info.PieceLength)
	if err := s.waitPieces(ctx, first, last, readahead); err != nil {
		return 0, err
	}
	return s.store.ReadAt(p, off)
}

func (s *Session) waitPieces(ctx context.Context, first, last int, readahead int64) error {
	select {
	case <-s.ready: // the start-up check is over
	case <-ctx.Done():
		return ctx.Err()
	}
	sw := s.swarm.Load()
	if sw == nil {
		if have := s.checked.Load(); have != nil && allSet(have.Has, first, last) {
			return nil // complete at start: no swarm was needed
		}
		return ErrUnavailable
	}
	if allSet(sw.HasPiece, first, last) {
		return nil
	}
	info := &s.Meta.Info
	var want []int
	end := min(info.NumPieces()-1, last+int(readahead/info.PieceLength)+1)
	for i := first; i <= end; i++ {
		if !sw.HasPiece(i) {
			want = append(want, i)
		}
	}
	id, urgent := s.readers.add(want)
	sw.SetUrgent(urgent)
	defer func() { sw.SetUrgent(s.readers.remove(id)) }()
	for {
		changed := sw.PieceChanged()
		if allSet(sw.HasPiece, first, last) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-sw.Stopped():
			if allSet(sw.HasPiece, first, last) {
				return nil
			}
			return ErrUnavailable
		}
	}
}

func allSet(has func(int) bool, first, last int) bool {
	for i := first; i <= last; i++ {
		if !has(i) {
			return false
		}
	}
	return true
}

// Complete reports whether every piece of [off, off+n) is verified.
func (s *Session) Complete(off, n int64) bool {
	info := &s.Meta.Info
	if n <= 0 {
		return true
	}
	first, last := int(off/info.PieceLength), int((off+n-1)/info.PieceLength)
	if sw := s.swarm.Load(); sw != nil {
		return allSet(sw.HasPiece, first, last)
	}
	have := s.checked.Load()
	return have != nil && allSet(have.Has, first, last)
}
