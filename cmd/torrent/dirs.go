package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// makeDataDir creates -dir with its parents if it does not exist yet, as
// aria2, libtorrent and Transmission do, and checks that it can be
// written: a directory we may not write would otherwise show only at the
// first verified piece, after the download started. A path that is a
// file or cannot be created is the caller's mistake (exit 2); a directory
// we may not write is a failure to run (exit 1).
func makeDataDir(dir string) error {
	if err := makeDir("-dir", dir); err != nil {
		return err
	}
	// Permission bits do not stop root, so try: a read-only mount, a full
	// quota or an ACL stops a real write.
	f, err := os.CreateTemp(dir, ".torrent-write-check-*")
	if err != nil {
		return fmt.Errorf("-dir %s is not writable: %w", dir, cause(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// makeMountpoint creates the -torfs mountpoint with its parents if it does
// not exist yet. It need not be writable: the mount covers it.
func makeMountpoint(dir string) error {
	if dir == "" {
		return nil
	}
	// A stale mount left by a killed torfs answers ENOTCONN, or nothing at
	// all: the plugin cleans it up when it mounts, so it is not ours to
	// judge here.
	_, err := statWithin(dir, 2*time.Second)
	if errors.Is(err, errNoAnswer) || errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED) {
		return nil
	}
	return makeDir("-torfs", dir)
}

// makeDir creates dir and its parents unless it is a directory already.
func makeDir(flag, dir string) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return badInput("%s %s is not a directory", flag, dir)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return badInput("%s %s: %v", flag, dir, cause(err))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path != dir {
			// A parent is the problem (a file, a read-only mount): name it.
			return badInput("%s %s: cannot create %s: %v", flag, dir, pe.Path, pe.Err)
		}
		return badInput("%s %s: cannot create it: %v", flag, dir, cause(err))
	}
	return nil
}

// cause drops the path an *fs.PathError repeats: the messages here name
// the path already.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
