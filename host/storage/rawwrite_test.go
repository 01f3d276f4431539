package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// rawWriteAt writes like (*os.File).WriteAt, on one P or more, and its
// errors name the file: a descriptor not open for writing, a closed file.
func TestRawWriteAt(t *testing.T) {
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		path := filepath.Join(t.TempDir(), "f")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		p := bytes.Repeat([]byte("0123456789abcdef"), 1<<12)
		if n, err := rawWriteAt(f, p, 4096); n != len(p) || err != nil {
			t.Fatalf("GOMAXPROCS %d: wrote %d of %d: %v", procs, n, len(p), err)
		}
		f.Close()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(make([]byte, 4096), p...); !bytes.Equal(got, want) {
			t.Errorf("GOMAXPROCS %d: file holds %d bytes, not the %d written at 4096", procs, len(got), len(want))
		}
		if _, err := rawWriteAt(f, p, 0); !errors.Is(err, os.ErrClosed) {
			t.Errorf("GOMAXPROCS %d: write to a closed file: %v", procs, err)
		}
		ro, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var pe *os.PathError
		if _, err := rawWriteAt(ro, p, 0); !errors.Is(err, syscall.EBADF) || !errors.As(err, &pe) || pe.Path != path {
			t.Errorf("GOMAXPROCS %d: write to a read-only file: %v", procs, err)
		}
		ro.Close()
		runtime.GOMAXPROCS(prev)
	}
}

// A raw write slower than rawSlow turns raw writes off: a slow or failing
// device must not hold a P, and with it every stop-the-world, for long.
func TestSlowRawWriteTurnsRawOff(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	defer func(d time.Duration) { rawSlow = d; rawOff.Store(false) }(rawSlow)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, 4096)
	if _, err := rawWriteAt(f, p, 0); err != nil || rawOff.Load() {
		t.Fatalf("a quick raw write: %v, raw writes off %v", err, rawOff.Load())
	}
	rawSlow = 0 // every write is slow now
	if _, err := rawWriteAt(f, p, 0); err != nil || !rawOff.Load() {
		t.Fatalf("a slow raw write: %v, raw writes off %v", err, rawOff.Load())
	}
}
