package storage

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SetSkip chooses file i of the layout (skip false) or skips it (skip
// true) while the torrent runs.
//
// A file chosen now whose bytes went to the parts file gets them back:
// every data range of the parts file within the file is copied to the real
// file (created here), so verified pieces shared with other files are
// neither lost nor fetched again, and the parts file's copy is then
// punched out. A file skipped now keeps its real file if it has one
// (pieces already there stay, as at Open); one not created yet goes to the
// parts file from now on.
func (s *Storage) SetSkip(i int, skip bool) error {
	if i < 0 || i >= len(s.l.Files) {
		return fmt.Errorf("no file %d in the layout", i)
	}
	if s.l.Files[i].Pad {
		return nil
	}
	s.moving.Lock()
	defer s.moving.Unlock()
	s.l.Files[i].Skip = skip
	if skip {
		if s.inParts[i] {
			return nil
		}
		if s.l.Parts == "" {
			return fmt.Errorf("%s: cannot skip it, the layout has no parts file", s.l.Files[i].Path)
		}
		_, err := os.Lstat(s.path(i))
		s.inParts[i] = errors.Is(err, os.ErrNotExist)
		return nil
	}
	if !s.inParts[i] {
		return nil
	}
	if err := s.fromParts(i); err != nil {
		return fmt.Errorf("move the bytes of %s out of the parts file: %w", s.l.Files[i].Path, err)
	}
	s.inParts[i] = false
	if s.l.Files[i].Length == 0 {
		_, err := s.file(i, true) // 0-byte files are made here, not by a write
		if err == nil {
			s.wrote(i, s.files[i].f)
		}
		return err
	}
	return nil
}

// fromParts copies file i's bytes that are in the parts file into file i.
func (s *Storage) fromParts(i int) error {
	parts, err := s.file(len(s.l.Files), false)
	if errors.Is(err, os.ErrNotExist) {
		return nil // nothing was kept
	}
	if err != nil {
		return err
	}
	lo, hi := s.starts[i], s.starts[i]+s.l.Files[i].Length
	buf := make([]byte, 1<<20)
	for off := lo; off < hi; {
		data, err := unix.Seek(int(parts.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) || err == nil && data >= hi {
			break // no more data in this file's range
		}
		if err != nil {
			return err
		}
		end, err := unix.Seek(int(parts.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		end = min(end, hi)
		if err := s.copyRange(parts, i, data, end, buf); err != nil {
			return err
		}
		off = end
	}
	// The real file has them now; give the space back (best effort: a
	// filesystem without hole punching keeps a stale copy nobody reads).
	unix.Fallocate(int(parts.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, lo, hi-lo)
	return nil
}

// copyRange copies torrent bytes [from, to) from the parts file to file i.
func (s *Storage) copyRange(parts *os.File, i int, from, to int64, buf []byte) error {
	dst, err := s.file(i, true)
	if err != nil {
		return err
	}
	defer s.wrote(i, dst)
	for off := from; off < to; {
		n := int(min(int64(len(buf)), to-off))
		if _, err := parts.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if _, err := dst.WriteAt(buf[:n], off-s.starts[i]); err != nil {
			return &WriteError{Dir: s.dir, File: s.l.Files[i].Path, Err: err}
		}
		off += int64(n)
	}
	return nil
}

// skipped reads file i's Skip under the lock SetSkip writes it with.
func (s *Storage) skipped(i int) bool {
	s.moving.RLock()
	defer s.moving.RUnlock()
	return s.l.Files[i].Skip
}
