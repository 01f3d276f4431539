// Package storage maps a torrent's pieces onto its files: positional reads
// and writes at int64 offsets, the start-up check of data on disk, and the
// resume file.
package storage

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// File is one file of the layout.
type File struct {
	Path   string // relative, slash-separated, already sanitised
	Length int64
	// Pad is a BEP 47 pad file: its bytes are zeros, read as such, and
	// it is never created.
	Pad bool
	// Skip is a file the user did not choose: it is never created, and
	// what pieces shared with chosen files bring of it is kept in the
	// parts file (unless the file is on disk already, from an earlier
	// run that chose it: then that file is used).
	Skip bool
}

// Layout is the torrent's shape as storage needs it.
type Layout struct {
	PieceLength int64
	Files       []File
	Hashes      [][20]byte
	// Parts is the hidden file, relative to the directory, that holds
	// the bytes of skipped files at their offsets in the torrent (a
	// sparse file); needed only when some file is skipped.
	Parts string
}

// Storage is the torrent's data under one directory. It is safe for
// concurrent use: reads and writes are pread/pwrite on files opened once.
type Storage struct {
	dir    string
	l      Layout
	starts []int64 // offset of each file's first byte
	total  int64
	mu     sync.Mutex
	files  []fileState // opened lazily; one more than l.Files: the parts file
	// inParts says file i's bytes live in the parts file.
	inParts []bool
	// moving is held by SetSkip while it moves a file's bytes; reads and
	// writes (which look at inParts) hold it shared.
	moving sync.RWMutex
	// bounce holds aligned buffers for direct writes (*[]byte).
	bounce sync.Pool
}

// ErrMissing is returned by reads of data not on disk (a missing or short
// file): missing data is never read as zeros.
var ErrMissing = errors.New("data not on disk")

// Open prepares storage for l under dir; files are opened on first use and
// created on first write, sparse.
func Open(dir string, l Layout) (*Storage, error) {
	if l.PieceLength <= 0 {
		return nil, fmt.Errorf("piece length %d", l.PieceLength)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs // error messages name the directory as the user can find it
	}
	s := &Storage{dir: dir, l: l, starts: make([]int64, len(l.Files)), files: make([]fileState, len(l.Files)+1), inParts: make([]bool, len(l.Files))}
	s.bounce.New = func() any { return new([]byte) }
	for i, f := range l.Files {
		s.starts[i] = s.total
		s.total += f.Length
		if f.Skip && !f.Pad {
			if l.Parts == "" {
				return nil, fmt.Errorf("%s is skipped but the layout has no parts file", f.Path)
			}
			_, err := os.Lstat(s.path(i))
			s.inParts[i] = errors.Is(err, os.ErrNotExist)
		}
	}
	if n := (s.total + l.PieceLength - 1) / l.PieceLength; n != int64(len(l.Hashes)) {
		return nil, fmt.Errorf("%d hashes for %d pieces", len(l.Hashes), n)
	}
	return s, nil
}

// NumPieces is the number of pieces.
func (s *Storage) NumPieces() int { return len(s.l.Hashes) }

// PieceLen is the length of piece i.
func (s *Storage) PieceLen(i int) int64 {
	return min(s.l.PieceLength, s.total-int64(i)*s.l.PieceLength)
}

// CheckPiece reports whether data hashes to piece i's SHA-1.
func (s *Storage) CheckPiece(i int, data []byte) bool {
	return i >= 0 && i < len(s.l.Hashes) && int64(len(data)) == s.PieceLen(i) && sha1.Sum(data) == s.l.Hashes[i]
}

// file returns file i opened for reading, or for writing when write is set.
// A descriptor opened earlier is used only while the path still names its
// file: another program may have deleted or replaced it, and the old
// descriptor would read (or write) a file nobody sees any more. Then the
// path is opened again: a read finds the data missing, a write creates the
// file again.
func (s *Storage) file(i int, write bool) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.openLocked(i, write)
	if err == nil && write {
		s.files[i].writing++ // until wrote: Changed leaves the file alone meanwhile
	}
	return f, err
}

func (s *Storage) openLocked(i int, write bool) (*os.File, error) {
	fs := &s.files[i]
	p := s.path(i)
	if fs.f != nil {
		if !fs.stillAt(p) {
			fs.changed = true
			fs.closeLocked()
		} else if fs.rw || !write {
			return fs.f, nil
		}
	}
	var f *os.File
	var err error
	if write {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	} else {
		f, err = os.OpenFile(p, os.O_RDWR, 0)
		if errors.Is(err, os.ErrPermission) {
			f, err = os.Open(p) // read-only data can still be seeded
		}
	}
	if err != nil {
		return nil, err
	}
	fs.closeLocked()
	fs.f, fs.rw = f, write
	fs.stamp()
	return f, nil
}

func (s *Storage) path(i int) string {
	if i == len(s.l.Files) {
		return filepath.Join(s.dir, filepath.FromSlash(s.l.Parts))
	}
	return filepath.Join(s.dir, filepath.FromSlash(s.l.Files[i].Path))
}

// backing is where byte fo of file i lives: file i itself, or the parts
// file at the byte's offset in the torrent.
func (s *Storage) backing(i int, fo int64) (int, int64) {
	if s.inParts[i] {
		return len(s.l.Files), s.starts[i] + fo
	}
	return i, fo
}

// span calls fn for each file piece of [off, off+n).
func (s *Storage) span(off int64, n int, fn func(i int, fileOff int64, lo, hi int) error) error {
	if off < 0 || off+int64(n) > s.total {
		return fmt.Errorf("range %d+%d outside the torrent's %d bytes", off, n, s.total)
	}
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i]+s.l.Files[i].Length > off }) // first file ending after off
	done := 0
	for ; done < n && i < len(s.l.Files); i++ {
		f := &s.l.Files[i] // not a copy: SetSkip may write its Skip meanwhile
		if f.Length == 0 {
			continue
		}
		fo := off + int64(done) - s.starts[i]
		k := int(min(int64(n-done), f.Length-fo))
		if err := fn(i, fo, done, done+k); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// ReadAt reads torrent bytes at off; data not on disk is ErrMissing. Pad
// files read as zeros.
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	s.moving.RLock()
	defer s.moving.RUnlock()
	err := s.span(off, len(p), func(i int, fo int64, lo, hi int) error {
		if s.l.Files[i].Pad {
			clear(p[lo:hi])
			return nil
		}
		j, fo := s.backing(i, fo)
		f, err := s.file(j, false)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", s.l.Files[i].Path, ErrMissing)
		}
		if err != nil {
			return err
		}
		if _, err := f.ReadAt(p[lo:hi], fo); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%s is short: %w", s.l.Files[i].Path, ErrMissing)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteAt writes torrent bytes at off, creating files as needed. A write
// the disk refuses is a *WriteError.
//
// Long aligned runs are written direct, around the page cache (direct.go).
//
// Files are sparse, never preallocated: space is taken as pieces arrive,
// so a full disk shows up here at any time, long after the file was
// opened, and the caller must (and does) handle it then. Preallocating
// would only move the failure for this torrent's space, not for space that
// other programs take meanwhile, and would hold space for pieces that may
// never come.
//
// The bytes of pad files are dropped: they are zeros by definition, and a
// piece that had anything else there failed its hash check before.
func (s *Storage) WriteAt(p []byte, off int64) (int, error) {
	s.moving.RLock()
	defer s.moving.RUnlock()
	err := s.span(off, len(p), func(i int, fo int64, lo, hi int) error {
		if s.l.Files[i].Pad {
			return nil
		}
		j, fo := s.backing(i, fo)
		f, err := s.file(j, true)
		if err == nil {
			err = s.writeFile(j, f, p[lo:hi], fo)
			s.wrote(j, f) // a failed write may have changed the file too
		}
		if err != nil {
			return &WriteError{Dir: s.dir, File: s.l.Files[i].Path, Err: err}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// CreateEmpty makes the torrent's 0-byte files, which no piece writes,
// except pad and skipped ones.
func (s *Storage) CreateEmpty() error {
	// By index, not a copy of each File: SetSkip may write Skip meanwhile,
	// and skipped reads it under the lock.
	for i := range s.l.Files {
		if f := &s.l.Files[i]; f.Length == 0 && !f.Pad && !s.skipped(i) {
			if _, err := s.file(i, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sync flushes written files to disk.
func (s *Storage) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, fs := range s.files {
		if fs.f != nil && fs.rw {
			if err := fs.f.Sync(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Close closes the files.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for i := range s.files {
		if err := s.files[i].closeLocked(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Verify hashes every piece whose bytes are all on disk, on every core, and
// returns the pieces that match (Check without a resume record).
//
// The check reads in large sequential runs and skips pieces that lie in a
// hole of a sparse file, so a mostly empty download is checked quickly.
func (s *Storage) Verify(ctx context.Context, progress func(done, total int)) (bitfield.Bitfield, error) {
	have, _, err := s.Check(ctx, nil, progress)
	return have, err
}
