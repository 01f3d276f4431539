package storage

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// rawWriteAt is a direct write that keeps its P (the Go scheduler's slot
// for running goroutines) during the system call.
//
// Why: a direct 1 MiB pwrite blocks about a millisecond waiting for the
// device. Through (*os.File).WriteAt the runtime marks the P as in a
// system call; the runtime's sysmon thread, finding it there on its next
// round, takes the P away and wakes another thread for it, and every
// such take resets sysmon's back-off to its shortest sleep (20 us). With a
// piece written every millisecond or so, sysmon never backed off: in a
// 1 GiB leech from a libtorrent seeder it took a P 885 times (one per
// piece written, a uprobe on runtime.handoffp) and its sleeps were 40% of
// the client's 21,000-27,000 context switches (perf, sched_switch), at
// about 0.1 CPU-s. Kept by the writer, the P runs nothing else for that
// millisecond; the core does, as the thread sleeps in the kernel.
//
// The cost: a stop-the-world of the garbage collector waits for the write
// to return, and on a single P nothing else would run meanwhile, so with
// one P the plain write is used. A device that is slow, or failing, would
// so freeze the whole process for as long as a write takes: the first raw
// write that takes longer than rawSlow turns them off for the rest of the
// run, and the plain write, which leaves the rest of the client running,
// is used from then on.
func rawWriteAt(f *os.File, p []byte, off int64) (int, error) {
	if runtime.GOMAXPROCS(0) < 2 || rawOff.Load() {
		return f.WriteAt(p, off)
	}
	start := time.Now()
	defer func() {
		if time.Since(start) > rawSlow {
			rawOff.Store(true)
		}
	}()
	// Through the RawConn the descriptor stays open (a concurrent Close
	// waits) for as long as the write runs.
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		n, werr = rawPwrite(fd, p, off)
		return true
	}); err != nil {
		// For a file (not pollable) the one error here: it was closed,
		// reported unwrapped, unlike (*os.File).WriteAt's os.ErrClosed.
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: fmt.Errorf("%w (%v)", os.ErrClosed, err)}
	}
	if werr != nil {
		werr = &os.PathError{Op: "write", Path: f.Name(), Err: werr}
	}
	return n, werr
}

// rawSlow is the longest a raw write may take before raw writes are
// turned off (rawOff): ten times what a 1 MiB direct write takes here.
var (
	rawSlow = 10 * time.Millisecond
	rawOff  atomic.Bool
)

// rawPwrite writes all of p at off, or returns what it wrote and why not.
func rawPwrite(fd uintptr, p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		r, _, e := syscall.RawSyscall6(syscall.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(&p[n])),
			uintptr(len(p)-n), uintptr(off+int64(n)), 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return n, e
		case r == 0:
			return n, fmt.Errorf("at %d: %w", off+int64(n), io.ErrShortWrite)
		}
		n += int(r)
	}
	return n, nil
}
