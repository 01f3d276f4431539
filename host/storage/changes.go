package storage

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// WriteError is a write the disk refused: full, over quota, failing, or
// read-only. The data is not lost by it: the caller still holds it and may
// write it again later.
type WriteError struct {
	Dir  string // the download directory
	File string // the torrent's file, relative to Dir
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("%s: writing %s: %v", e.Status(), e.File, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Status says what is wrong in a few words, for a status line: "disk full
// at /data".
func (e *WriteError) Status() string {
	switch {
	case errors.Is(e.Err, syscall.ENOSPC), errors.Is(e.Err, syscall.EDQUOT):
		return "disk full at " + e.Dir
	case errors.Is(e.Err, syscall.EIO):
		return "disk I/O error at " + e.Dir
	case errors.Is(e.Err, syscall.EROFS):
		return "read-only filesystem at " + e.Dir
	}
	return "cannot write to " + e.Dir
}

// fileState is one file of the layout as storage last knew it.
type fileState struct {
	f  *os.File // opened lazily; nil until then
	rw bool     // f is open for writing
	// direct is f's file opened again for direct writes (direct.go),
	// with the alignment they need; noDirect: not to be tried again
	// while f is open.
	direct   *os.File
	align    int64
	noDirect bool
	// opened is f's own file (fstat) when opened or last written by us.
	opened os.FileInfo
	// seen is what Changed last took as the file's normal state; nil for a
	// file never opened (it holds nothing verified) or found gone.
	seen os.FileInfo
	// changed: file found that the path no longer names the open file.
	changed bool
	// writing counts our writes under way: their changes are not another
	// program's, and a scan that saw one half done would take it for one.
	writing int
}

// stamp records f's identity, size and mtime as ours.
func (fs *fileState) stamp() {
	if fi, err := fs.f.Stat(); err == nil {
		fs.opened, fs.seen = fi, fi
	}
}

// stillAt reports whether path p still names the open file.
func (fs *fileState) stillAt(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fs.opened != nil && os.SameFile(fi, fs.opened)
}

// wrote ends one of our writes to file i (begun in file) and refreshes
// its stamp, so that Changed does not take our writes for another
// program's.
func (s *Storage) wrote(i int, f *os.File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := &s.files[i]
	fs.writing--
	if fs.f == f {
		fs.stamp()
	}
}

// Changed returns the pieces of every file that another program changed
// since storage opened or wrote it, or since the previous call: deleted,
// replaced, resized or modified (its mtime moved). It costs one stat per
// file storage has opened. Each change is reported once; a file being
// written by us is looked at next time.
func (s *Storage) Changed() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pieces []int
	for i := range s.files {
		fs := &s.files[i]
		if fs.seen == nil && !fs.changed || fs.writing > 0 {
			continue // nothing verified there, or ours to change now
		}
		fi, err := os.Stat(s.path(i))
		same := err == nil && fs.seen != nil && os.SameFile(fi, fs.seen) &&
			fi.Size() == fs.seen.Size() && fi.ModTime().Equal(fs.seen.ModTime())
		if same && !fs.changed {
			continue
		}
		fs.changed, fs.seen = false, fi // nil when gone: reported once
		pieces = s.appendFilePieces(pieces, i)
	}
	return pieces
}

// FilePieces returns the pieces that hold bytes of the files piece i
// spans, piece i among them: what else a change that spoilt piece i may
// have spoilt.
func (s *Storage) FilePieces(i int) []int {
	if i < 0 || i >= len(s.l.Hashes) {
		return nil
	}
	var pieces []int
	s.moving.RLock() // appendFilePieces reads inParts
	defer s.moving.RUnlock()
	s.span(int64(i)*s.l.PieceLength, int(s.PieceLen(i)), func(fi int, _ int64, _, _ int) error {
		pieces = s.appendFilePieces(pieces, fi)
		return nil
	})
	return pieces
}

// appendFilePieces appends the pieces that hold bytes of file fi; for the
// parts file, those of every file kept there.
func (s *Storage) appendFilePieces(pieces []int, fi int) []int {
	if fi == len(s.l.Files) {
		for i, in := range s.inParts {
			if in {
				pieces = s.appendFilePieces(pieces, i)
			}
		}
		return pieces
	}
	n := s.l.Files[fi].Length
	if n == 0 {
		return pieces
	}
	first, last := s.starts[fi]/s.l.PieceLength, (s.starts[fi]+n-1)/s.l.PieceLength
	for p := first; p <= last; p++ {
		pieces = append(pieces, int(p))
	}
	return pieces
}
