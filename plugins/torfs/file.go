package main

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/torrent-dev/torrent/sdk"
)

// Readahead: the data made urgent (and, on a lazy mount, fetched) ahead of
// a read is as long as the sequential run it ends, from minReadahead up to
// maxReadahead; a seek starts over. It grows with the bytes read, not the
// number of requests: the kernel cuts one large read into many requests
// (128 KiB each), and doubling on each made a single 1 MiB read ask for
// 64 MiB ahead.
const (
	minReadahead = 1 << 20
	maxReadahead = 64 << 20
)

// fileNode is one file of a torrent: a range of the torrent's data.
type fileNode struct {
	fs.Inode
	files   sdk.Files
	torrent int
	offset  int64 // in the torrent
	size    int64
	mtime   time.Time
	disk    string // where the host stores the file's data
}

var (
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
)

func (f *fileNode) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = fuse.S_IFREG | 0o444
	out.Size = uint64(f.size)
	out.Blocks = (uint64(f.size) + 511) / 512
	out.SetTimes(nil, &f.mtime, &f.mtime)
	return 0
}

// handle keeps one open file's sequential-read state: each open file has
// its own, so two readers of one file keep their own readahead.
type handle struct {
	mu   sync.Mutex
	next int64    // where the last read ended
	run  int64    // bytes read sequentially up to next
	data *os.File // a complete file's data on disk, read directly
}

func (h *handle) Release(context.Context) syscall.Errno {
	if h.data != nil {
		h.data.Close()
	}
	return 0
}

// Open picks the kernel's caching per file: a complete file goes through
// the page cache (its data never changes); an incomplete one is read
// directly, so each read is the reader's own FUSE request, which a signal
// interrupts (page-cache readahead waits are not interruptible).
//
// A complete file is read from the host's copy on disk: all of it is
// verified, it no longer changes, and a gRPC call per 128 KiB read would
// cap the mount at a fraction of the disk's speed.
func (f *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR) != 0 {
		return nil, 0, syscall.EROFS
	}
	h := &handle{}
	if done, err := f.files.Complete(ctx, f.torrent, f.offset, f.size); err == nil && done {
		if d, err := os.Open(f.disk); err == nil {
			if st, err := d.Stat(); err == nil && st.Mode().IsRegular() && st.Size() == f.size {
				h.data = d
			} else {
				d.Close() // not what the host verified: go through the host
			}
		}
		return h, fuse.FOPEN_KEEP_CACHE, 0
	}
	return h, fuse.FOPEN_DIRECT_IO, 0
}

func (f *fileNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= f.size {
		return fuse.ReadResultData(nil), 0
	}
	n := min(int64(len(dest)), f.size-off)
	if h, ok := fh.(*handle); ok && h.data != nil {
		return fuse.ReadResultFd(h.data.Fd(), off, int(n)), 0
	}
	readahead := int64(minReadahead)
	if h, ok := fh.(*handle); ok {
		h.mu.Lock()
		if off != h.next {
			h.run = 0
		}
		h.run += n
		h.next = off + n
		readahead = min(max(h.run, minReadahead), maxReadahead, f.size-off-n)
		h.mu.Unlock()
	}
	got, err := f.files.ReadAt(ctx, f.torrent, dest[:n], f.offset+off, readahead)
	switch {
	case err == nil:
		return fuse.ReadResultData(dest[:got]), 0
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return nil, syscall.EINTR // the reader was interrupted
	default:
		return nil, syscall.EIO // ErrUnavailable, or the host is gone
	}
}
