package storage

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Verified pieces are written with O_DIRECT where the filesystem takes it:
// from the piece buffer straight to the device, around the page cache.
//
// Measured on this project's bench machine (a VM whose host takes back
// the guest's free memory): a buffered write of 1 GiB into a new file cost
// 1.7 to 2.2 s of system time, nearly all of it in the copy into freshly
// allocated page-cache pages (copy_folio_from_iter_atomic: the host backs
// each such page on its first touch); right after another big file was
// deleted it cost 0.25 s. Direct writes of the same pieces cost 0.12 s of
// system time and no copy, whatever the state of memory; fallocate,
// writing in sorted batches and sync_file_range alone changed nothing
// (docs/performance.md). A piece written this way is not in the page
// cache: an upload of it reads it back from the disk.
//
// Only whole aligned blocks go direct. An unaligned head or tail (a piece
// that starts or ends inside a file block: multi-file torrents, the last
// piece) is written through the page cache as before; a middle whose
// memory is not aligned like its file offset is copied to an aligned
// buffer first. Where the filesystem refuses direct I/O (statx says so,
// the descriptor cannot be reopened, or a direct write fails with EINVAL)
// the file is written buffered from then on.

// directMin is the least aligned run worth a direct write: below it the
// device round trip costs more than the copy it saves.
const directMin = 64 << 10

// defaultAlign is the alignment used where statx cannot tell: a logical
// block of 4096 covers 512-byte devices too.
const defaultAlign = 4096

// directWrite is the direct write itself (rawwrite.go); tests replace it
// to play a filesystem that refuses an alignment.
var directWrite = rawWriteAt

// directLocked returns a descriptor of fs.f's file open for direct writes
// and the alignment they need, or nil where direct I/O is not to be used.
// s.mu is held.
func (fs *fileState) directLocked() (*os.File, int64) {
	if fs.direct != nil || fs.noDirect || !fs.rw {
		return fs.direct, fs.align
	}
	fs.noDirect = true // unless all goes well below
	align := int64(defaultAlign)
	var sx unix.Statx_t
	if err := unix.Statx(int(fs.f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &sx); err == nil && sx.Mask&unix.STATX_DIOALIGN != 0 {
		if sx.Dio_offset_align == 0 || sx.Dio_mem_align == 0 {
			return nil, 0 // no direct I/O on this file
		}
		align = max(align, int64(sx.Dio_offset_align), int64(sx.Dio_mem_align))
	}
	// Reopened through /proc: the very file fs.f has open, never another
	// that took its path meanwhile.
	d, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fs.f.Fd()), os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil, 0
	}
	fs.direct, fs.align, fs.noDirect = d, align, false
	return d, align
}

// closeLocked closes both descriptors of fs; the next use opens the file
// again. s.mu is held.
func (fs *fileState) closeLocked() error {
	var err error
	if fs.f != nil {
		err = fs.f.Close()
	}
	if fs.direct != nil {
		fs.direct.Close()
	}
	fs.f, fs.direct, fs.noDirect = nil, nil, false
	return err
}

// writeFile writes p at off of file i, which f (from file(i, true)) has
// open: the aligned middle direct when it is long enough, the rest
// buffered.
func (s *Storage) writeFile(i int, f *os.File, p []byte, off int64) error {
	s.mu.Lock()
	var d *os.File
	var a int64
	if s.files[i].f == f {
		d, a = s.files[i].directLocked()
	}
	s.mu.Unlock()
	head, mid := 0, 0
	if d != nil {
		head = int((a - off%a) % a)
		if head < len(p) {
			mid = int(int64(len(p)-head) / a * a)
		}
	}
	if mid < directMin {
		_, err := f.WriteAt(p, off)
		return err
	}
	if err := s.direct(d, a, p[head:head+mid], off+int64(head)); err != nil {
		if !errors.Is(err, syscall.EINVAL) {
			return err
		}
		// The filesystem wants another alignment, or no direct I/O at
		// all after all: this file is written buffered from now on.
		s.mu.Lock()
		if fs := &s.files[i]; fs.direct == d {
			fs.direct.Close()
			fs.direct, fs.noDirect = nil, true
		}
		s.mu.Unlock()
		head, mid = 0, 0
	}
	if head > 0 {
		if _, err := f.WriteAt(p[:head], off); err != nil {
			return err
		}
	}
	_, err := f.WriteAt(p[head+mid:], off+int64(head+mid))
	return err
}

// direct writes p at off (a multiple of a) through d. Where p's memory is
// not aligned alike (a piece whose file starts at an odd offset within it)
// it goes through an aligned copy: copying a piece costs far less than the
// page cache would.
func (s *Storage) direct(d *os.File, a int64, p []byte, off int64) error {
	if uintptr(unsafe.Pointer(unsafe.SliceData(p)))%uintptr(a) != 0 {
		bp := s.bounce.Get().(*[]byte)
		defer s.bounce.Put(bp)
		if need := len(p) + int(a); cap(*bp) < need {
			*bp = make([]byte, need)
		}
		b := *bp
		skip := int((a - int64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))%a) % a)
		p = b[skip : skip+copy(b[skip:skip+len(p)], p)]
	}
	_, err := directWrite(d, p, off)
	return err
}
