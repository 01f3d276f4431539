package session

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/sdk"
)

// torrentBytes is the torrent's data as one stream, read from dir.
func torrentBytes(t *testing.T, s *Session, dir string) []byte {
	t.Helper()
	var all []byte
	for _, f := range s.Meta().Info.Files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(s.Meta().Info.RelPath(f))))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// Reads through ReadAt during a download (torfs's path) return the source's
// bytes before the download ends: the leecher is capped at 512 KiB/s, so
// the 8.4 MB torrent takes at least 16 s, while the read's two pieces jump
// the queue. Would catch a read that waited for the whole download or
// returned bytes of unverified pieces.
func TestReadAtWhileDownloading(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, torrent, seedAddr := startSeeder(t, ctx, testLogger(t, "seeder"))
	var wg sync.WaitGroup
	lctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	leech := startSession(t, lctx, &wg, torrent, t.TempDir(), Options{Peers: []netip.AddrPort{seedAddr}, DownRate: 512 << 10, Logger: testLogger(t, "leecher")})
	want := torrentBytes(t, leech, src)
	n := int64(len(want))
	for _, r := range []struct{ off, len int64 }{{n - 100_000, 100_000}, {n / 2, 4096}} {
		got := make([]byte, r.len)
		k, err := leech.ReadAt(ctx, got, r.off, 0)
		if err != nil || int64(k) != r.len {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", r.off, r.len, k, err)
		}
		if !bytes.Equal(got, want[r.off:r.off+r.len]) {
			t.Fatalf("ReadAt(%d, %d): bytes differ from the source", r.off, r.len)
		}
		if !leech.Complete(r.off, r.len) {
			t.Fatalf("Complete(%d, %d) = false after the read", r.off, r.len)
		}
		if st := leech.Stats(); st.Missing == 0 {
			t.Fatalf("the read of %d bytes at %d returned only once the download was over", r.len, r.off)
		}
	}
	if leech.Complete(0, n) {
		t.Fatal("Complete says the whole torrent is there mid-download")
	}
	if st, ok := leech.Picker(); !ok || st.Active {
		t.Fatalf("picker status %+v, %v: want the built-in picker", st, ok)
	}
}

// A read that waits (no peer has the data) makes its pieces urgent, and
// cancelling it ends the wait and takes them out of the urgent set; once
// the session has stopped, a read of missing data is ErrUnavailable.
func TestReadAtCancelAndStop(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	torrent := makeTorrent(t, src, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sctx, stop := context.WithCancel(ctx)
	s := startSession(t, sctx, &wg, torrent, t.TempDir(), Options{Logger: testLogger(t, "alone")})
	rctx, cancelRead := context.WithCancel(ctx)
	read := make(chan error, 1)
	go func() {
		_, err := s.ReadAt(rctx, make([]byte, 10), 3<<20, 0)
		read <- err
	}()
	first := int((3 << 20) / s.Meta().Info.PieceLength)
	waitFor(t, ctx, "the read's piece to be urgent", func() bool {
		s.readers.mu.Lock()
		defer s.readers.mu.Unlock()
		all, blocked, waited := s.readers.unionLocked()
		// The read's own piece, then the one after it (its readahead).
		return slices.Equal(all, []int{first, first + 1}) && blocked == 1 && waited == 2
	})
	cancelRead()
	if err := <-read; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v, want context.Canceled", err)
	}
	s.readers.mu.Lock()
	left, _, _ := s.readers.unionLocked()
	s.readers.mu.Unlock()
	if len(left) != 0 {
		t.Fatalf("urgent pieces %v left after the read was cancelled", left)
	}
	if n, done := s.Checking(); !done || n != s.Meta().Info.NumPieces() {
		t.Fatalf("Checking() = %d, %v; want %d, true", n, done, s.Meta().Info.NumPieces())
	}
	stop()
	wg.Wait()
	if _, err := s.ReadAt(ctx, make([]byte, 10), 0, 0); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("read after stop: %v, want ErrUnavailable", err)
	}
	if s.Complete(0, 1) {
		t.Fatal("Complete(0, 1) true for data never downloaded")
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A session over whole data, run without -seed, ends at once; reads are
// then served from the start-up check, with no swarm. Reads past the end
// are cut short, and one outside the torrent is an error.
func TestReadAtCompleteAtStart(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	torrent := makeTorrent(t, src, "")
	s, err := Open(torrent, Options{Dir: src})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != src {
		t.Fatalf("Dir() = %q, want %q", s.Dir(), src)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := torrentBytes(t, s, src)
	n := int64(len(want))
	got := make([]byte, 1000)
	k, err := s.ReadAt(context.Background(), got, n-300, 0)
	if err != nil || k != 300 || !bytes.Equal(got[:k], want[n-300:]) {
		t.Fatalf("read across the end: %d, %v (bytes equal: %v)", k, err, bytes.Equal(got[:k], want[n-300:]))
	}
	if k, err := s.ReadAt(context.Background(), nil, 5, 0); k != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", k, err)
	}
	for _, off := range []int64{-1, n} {
		if _, err := s.ReadAt(context.Background(), got, off, 0); err == nil {
			t.Fatalf("read at %d of a %d-byte torrent: no error", off, n)
		}
	}
	if !s.Complete(0, n) || !s.Complete(n, 0) {
		t.Fatal("Complete false for whole data")
	}
	if _, ok := s.Picker(); ok {
		t.Fatal("a picker ran for data whole at start")
	}
}

// The urgent set is the union of the waiting reads' pieces, each piece
// once: the reads' own pieces first (blocked), oldest read first, then
// their readahead, all of them waited for; a piece one read reads and
// another reads ahead counts as read. A read that ends takes its own out.
func TestReadersUnion(t *testing.T) {
	t.Parallel()
	var r readers
	check := func(what string, got []int, blocked, waited int, want []int, wantBlocked, wantWaited int) {
		t.Helper()
		if !slices.Equal(got, want) || blocked != wantBlocked || waited != wantWaited {
			t.Fatalf("%s: %v, %d blocked on, %d waited for; want %v, %d, %d", what, got, blocked, waited, want, wantBlocked, wantWaited)
		}
	}
	a, got, blocked, waited := r.add([]int{7, 3}, 1) // 3 is 7's readahead
	check("after one read", got, blocked, waited, []int{7, 3}, 1, 2)
	b, got, blocked, waited := r.add([]int{3, 9, 1}, 2)
	check("after two reads", got, blocked, waited, []int{7, 3, 9, 1}, 3, 4)
	c, got, blocked, waited := r.add([]int{5, 6}, 1)
	check("after three reads", got, blocked, waited, []int{7, 3, 9, 5, 1, 6}, 4, 6)
	got, blocked, waited = r.remove(a)
	check("after the first ended", got, blocked, waited, []int{3, 9, 5, 1, 6}, 3, 5)
	r.remove(c)
	got, blocked, waited = r.remove(b)
	check("after all ended", got, blocked, waited, nil, 0, 0)
}

// Listen takes the port asked for, or says which it could not take; with
// port 0 it moves past a taken port.
func TestListen(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	if _, err := Listen(port); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Listen(%d) on a taken port: %v, want EADDRINUSE", port, err)
	}
	ln, err := Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := ln.Addr().(*net.TCPAddr).Port
	if got == port || got == 0 {
		t.Fatalf("Listen(0) gave port %d (taken: %d)", got, port)
	}
	again, err := Listen(got)
	if err == nil {
		again.Close()
		t.Fatalf("Listen(%d) twice succeeded", got)
	}
}

// A returned read's window ahead stays urgent behind the pieces reads
// wait for, and is not counted as waited for: a read that goes on where
// one ended moves that reader's window, one elsewhere is a second reader,
// the most recent first; a reader silent for streamIdle is dropped.
func TestReadersStreams(t *testing.T) {
	t.Parallel()
	var r readers
	t0 := time.Now()
	if got, _, _, changed := r.readOn(0, 100, []int{1, 2}, t0); !changed || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("first reader: %v %v", got, changed)
	}
	if got, _, waited, changed := r.readOn(500, 100, []int{8, 9}, t0.Add(time.Second)); !changed || !slices.Equal(got, []int{8, 9, 1, 2}) || waited != 0 {
		t.Fatalf("second reader: %v %v, %d waited for", got, changed, waited)
	}
	id, got, _, waited := r.add([]int{9, 5}, 2)
	if !slices.Equal(got, []int{9, 5, 8, 1, 2}) || waited != 2 {
		t.Fatalf("with a waiting read: %v, %d waited for", got, waited)
	}
	r.remove(id)
	// The first reads on: its window moves and it is the most recent.
	if got, _, _, _ := r.readOn(100, 100, []int{2, 3}, t0.Add(2*time.Second)); !slices.Equal(got, []int{2, 3, 8, 9}) {
		t.Fatalf("first reader read on: %v", got)
	}
	if _, _, _, changed := r.readOn(200, 100, []int{2, 3}, t0.Add(2*time.Second)); changed {
		t.Fatal("the same window again counted as a change")
	}
	// The second has been silent too long.
	if got, _, _, _ := r.readOn(300, 100, []int{3}, t0.Add(2*time.Second+streamIdle)); !slices.Equal(got, []int{3}) {
		t.Fatalf("after the second fell silent: %v", got)
	}
}
