package swarm_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
)

// fullDisk is storage that fills up after a few pieces and has room again
// some seconds after its first refusal.
type fullDisk struct {
	swarm.Storage
	mu      sync.Mutex
	writes  int
	first   time.Time // first refusal
	refused atomic.Int32
}

func (d *fullDisk) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	full := d.writes >= 5 && (d.first.IsZero() || time.Since(d.first) < 3*time.Second)
	if full && d.first.IsZero() {
		d.first = time.Now()
	}
	if !full {
		d.writes++
	}
	d.mu.Unlock()
	if full {
		d.refused.Add(1)
		return 0, &storage.WriteError{Dir: "/test", File: "f", Err: syscall.ENOSPC}
	}
	return d.Storage.WriteAt(p, off)
}

// A disk that fills up stalls the download instead of ending it; the
// pieces it refused are written from memory once it has room, none is
// fetched again, and the download completes. (The end of a stall once
// started the piece whose write ended it afresh; this run catches that
// only when the random pick lands on it, about one run in four, as did
// TestDiskFullConsole and TestDiskFullStallsThenResumes.)
func TestFullDiskStallsAndResumes(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	good := startFake(t, tr, false)
	var log bytes.Buffer
	var mu sync.Mutex
	logger := hclog.New(&hclog.LoggerOptions{Output: lockedWriter{&mu, &log}, Level: hclog.Info})
	disk := &fullDisk{}
	s, _ := leechWith(t, tr, logger, func(c *swarm.Config) { disk.Storage = c.Storage; c.Storage = disk }, good.addr())
	mu.Lock()
	out := log.String()
	mu.Unlock()
	for _, want := range []string{"disk full at /test: downloading paused", "downloading resumes"} {
		if !bytes.Contains([]byte(out), []byte(want)) {
			t.Fatalf("no %q in the log:\n%s", want, out)
		}
	}
	if disk.refused.Load() == 0 {
		t.Fatal("no write was refused")
	}
	st := s.Stats()
	if st.Downloaded-st.Wasted != int64(len(tr.data)) || len(st.Downloading) > 0 || st.Status != "" {
		t.Fatalf("downloaded %d (%d wasted) of %d, pieces %v still in flight, status %q",
			st.Downloaded, st.Wasted, len(tr.data), st.Downloading, st.Status)
	}
}
