package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// verifyRun is how many bytes a worker checks in one sequential run.
const verifyRun = 16 << 20

// verify hashes the pieces in todo on every core, setting the good ones in
// have. progress counts the pieces not in todo as done from the start.
func (s *Storage) verify(ctx context.Context, todo []int, have bitfield.Bitfield, progress func(done, total int)) error {
	n := len(s.l.Hashes)
	if len(todo) == 0 {
		return nil
	}
	if kept := s.onDisk(todo); len(kept) < len(todo) {
		todo = kept
		if progress != nil {
			progress(n-len(todo), n)
		}
	}
	per := int(max(1, verifyRun/s.l.PieceLength)) // pieces per run
	var next atomic.Int64
	var done atomic.Int64
	done.Store(int64(n - len(todo)))
	var mu sync.Mutex // guards have and progress
	var firstErr error
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, s.l.PieceLength)
			for ctx.Err() == nil {
				first := int(next.Add(1)-1) * per
				if first >= len(todo) {
					return
				}
				for _, i := range todo[first:min(first+per, len(todo))] {
					ok, err := s.checkOnDisk(i, buf)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if ok {
						have.Set(i)
					}
					if progress != nil {
						progress(int(done.Add(1)), n)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// onDisk drops from todo the pieces with bytes in a file that does not
// exist: one look per file, where checkOnDisk would try to open it for
// each of its pieces (262,144 failed opens, 0.4 s, for a fresh 4 GiB
// download in 16 KiB pieces).
func (s *Storage) onDisk(todo []int) []int {
	s.moving.RLock()
	defer s.moving.RUnlock()
	missing := make([]bool, len(s.files))
	some := false
	for j := range s.files {
		if j < len(s.l.Files) && (s.l.Files[j].Pad || s.inParts[j]) {
			continue // pads are zeros; a skipped file's bytes are in the parts file
		}
		if _, err := os.Stat(s.path(j)); errors.Is(err, os.ErrNotExist) {
			missing[j], some = true, true
		}
	}
	if !some {
		return todo
	}
	kept := todo[:0:0]
	for _, i := range todo {
		gone := false
		s.span(int64(i)*s.l.PieceLength, int(s.PieceLen(i)), func(fi int, fo int64, _, _ int) error {
			if !s.l.Files[fi].Pad {
				j, _ := s.backing(fi, fo)
				gone = gone || missing[j]
			}
			return nil
		})
		if !gone {
			kept = append(kept, i)
		}
	}
	return kept
}

// checkOnDisk reads piece i into buf and checks its hash; a piece not fully
// on disk is simply not there (false, nil).
func (s *Storage) checkOnDisk(i int, buf []byte) (bool, error) {
	off, size := int64(i)*s.l.PieceLength, s.PieceLen(i)
	present := true
	s.moving.RLock()
	defer s.moving.RUnlock()
	err := s.span(off, int(size), func(fi int, fo int64, lo, hi int) error {
		if !present {
			return nil
		}
		if s.l.Files[fi].Pad {
			clear(buf[lo:hi])
			return nil
		}
		fi, fo = s.backing(fi, fo)
		f, err := s.file(fi, false)
		if errors.Is(err, os.ErrNotExist) {
			present = false
			return nil
		}
		if err != nil {
			return err
		}
		if (lo == 0 || fi == len(s.l.Files)) && inHole(f, fo, int64(hi-lo)) {
			present = false
			return nil
		}
		if _, err := f.ReadAt(buf[lo:hi], fo); err != nil {
			if errors.Is(err, io.EOF) {
				present = false
				return nil
			}
			return err
		}
		return nil
	})
	if err != nil || !present {
		return false, err
	}
	return s.CheckPiece(i, buf[:size]), nil
}

// inHole reports whether [off, off+n) of f holds no data at all (a hole of
// a sparse file, or past its end). Where the filesystem cannot tell, it
// says no and the bytes are read.
func inHole(f *os.File, off, n int64) bool {
	data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	if err != nil {
		return errors.Is(err, unix.ENXIO) // no data after off
	}
	return data >= off+n
}
