package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// A piece is trusted at start without hashing only on this chain:
//
//  1. it was verified and written (the swarm marks it had after WriteAt);
//  2. Durable, called with a have set taken after that, fdatasyncs every file
//     the piece touches and only then reads the file's stamp;
//  3. the resume file holding that have set and those stamps is written
//     atomically after Durable returns (SaveResume);
//  4. at the next start every file the piece touches still has that stamp.
//
// A kill at any moment leaves either an older resume file, whose pieces
// were durable before it was written, or the new one. Any write to a file
// after step 2 moves its mtime and ctime, so step 4 sends that file to the
// hash check: with multigrain timestamps (Linux 6.13 and later on ext4,
// xfs, btrfs, tmpfs) even a write in the same clock tick as our stat
// does. On an older kernel such a write, keeping the size, can go unseen
// (libtorrent's and Transmission's checks share that blind spot); -check
// hashes everything.

// stampOf is fi's stamp.
func stampOf(fi os.FileInfo) Stamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stamp{} // vouches for nothing: hashed at the next start
	}
	return Stamp{Inode: st.Ino, Size: fi.Size(), MTime: st.Mtim.Nano(), CTime: st.Ctim.Nano()}
}

// Fits reports whether r was written for this layout; a resume file that
// does not fit is to be ignored.
func (s *Storage) Fits(r *Resume) error {
	if len(r.Files) != len(s.l.Files) {
		return fmt.Errorf("resume file lists %d files, the torrent has %d", len(r.Files), len(s.l.Files))
	}
	if _, err := bitfield.FromBytes(r.Have, len(s.l.Hashes)); err != nil {
		return fmt.Errorf("resume file: %w", err)
	}
	return nil
}

// CheckStats says how the start-up check came to its pieces.
type CheckStats struct {
	// Hashed pieces were checked on disk; pieces lying in holes or in
	// missing files count, though they cost no hashing.
	Hashed int
	// Trusted pieces were taken from the resume record unhashed.
	Trusted int
}

// Check is the start-up check. With r (which must Fit), the pieces r
// records are trusted where every file they touch still has the stamp r
// recorded for it; every piece that touches another file is hashed (a
// piece r does not record in an unchanged file is missing). Without r,
// every piece is hashed. It returns the pieces found good.
func (s *Storage) Check(ctx context.Context, r *Resume, progress func(done, total int)) (bitfield.Bitfield, CheckStats, error) {
	n := len(s.l.Hashes)
	have := bitfield.New(n)
	var cs CheckStats
	todo := make([]int, 0, n)
	if r == nil {
		for i := range n {
			todo = append(todo, i)
		}
	} else {
		if err := s.Fits(r); err != nil {
			return have, cs, err
		}
		claimed, _ := bitfield.FromBytes(r.Have, n)
		same := s.unchanged(r.Files)
		for i := range n {
			if !s.inFiles(i, same) {
				todo = append(todo, i)
			} else if claimed.Has(i) {
				have.Set(i)
			}
		}
	}
	cs.Hashed, cs.Trusted = len(todo), have.Count()
	err := s.verify(ctx, todo, have, progress)
	return have, cs, err
}

// unchanged reports for each file whether it still has its stamp in
// stamps; the files are opened, so that Durable later sees any change
// made after this look.
func (s *Storage) unchanged(stamps []Stamp) []bool {
	same := make([]bool, len(s.l.Files))
	for i := range s.l.Files { // by index: SetSkip may write a File's Skip meanwhile
		if s.l.Files[i].Length == 0 {
			same[i] = true // no byte of any piece
			continue
		}
		if !stamps[i].Known() {
			continue
		}
		fd, err := s.file(i, false)
		if err != nil {
			continue
		}
		fi, err := fd.Stat()
		same[i] = err == nil && stampOf(fi) == stamps[i]
	}
	return same
}

// inFiles reports whether every file piece i touches is marked in ok.
func (s *Storage) inFiles(i int, ok []bool) bool {
	all := true
	s.span(int64(i)*s.l.PieceLength, int(s.PieceLen(i)), func(fi int, _ int64, _, _ int) error {
		all = all && ok[fi]
		return nil
	})
	return all
}

// Durable makes the data written so far durable and returns the stamps to
// record with have (a wire bitfield taken after the writes of its pieces
// returned): every file holding bytes of a piece in have is fsynced, then
// stamped. A file that another program changed since we last opened or
// wrote it, one being written by us right now, or one that could not be
// synced gets a zero stamp: its pieces are hashed at the next start. The
// error reports the syncs that failed; the stamps are usable regardless.
func (s *Storage) Durable(have []byte) ([]Stamp, error) {
	stamps := make([]Stamp, len(s.l.Files))
	var errs []error
	for i := range s.l.Files {
		if !s.holdsAny(i, have) {
			continue
		}
		st, err := s.durable(i)
		if err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", s.path(i), err))
		}
		stamps[i] = st
	}
	return stamps, errors.Join(errs...)
}

func (s *Storage) durable(i int) (Stamp, error) {
	f, err := s.file(i, false)
	if errors.Is(err, os.ErrNotExist) {
		return Stamp{}, nil // nothing there to vouch for
	}
	if err != nil {
		return Stamp{}, err
	}
	// fdatasync: the data and the size, not the times; an mtime the disk
	// lost in a crash only sends the file to the hash check. On Linux it
	// flushes the file through a descriptor opened read-only too.
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		if errors.Is(err, os.ErrClosed) {
			err = nil // reopened for writing meanwhile: stamped next time
		}
		return Stamp{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := &s.files[i]
	if fs.f != f || fs.writing > 0 || fs.changed || !fs.stillAt(s.path(i)) {
		return Stamp{}, nil
	}
	fi, err := f.Stat()
	if err != nil || fs.opened == nil || stampOf(fi) != stampOf(fs.opened) {
		return Stamp{}, nil // changed since our last write: not ours to vouch for
	}
	return stampOf(fi), nil
}

// holdsAny reports whether file fi holds bytes of a piece set in have.
func (s *Storage) holdsAny(fi int, have []byte) bool {
	n := s.l.Files[fi].Length
	if n == 0 {
		return false
	}
	first, last := s.starts[fi]/s.l.PieceLength, (s.starts[fi]+n-1)/s.l.PieceLength
	for p := first; p <= last; p++ {
		if int(p/8) < len(have) && have[p/8]&(0x80>>(p%8)) != 0 {
			return true
		}
	}
	return false
}
