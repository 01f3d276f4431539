package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/minitracker"
)

// files of the test torrent: odd sizes, an empty file, a piece spanning
// several files.
var testFiles = []struct {
	path string
	size int64
}{
	{"t/a.bin", 3<<20 + 7},
	{"t/empty", 0},
	{"t/b/c.bin", 16383},
	{"t/b/d.bin", 1},
	{"t/e.bin", 5<<20 + 262145},
}

func makeTorrent(t *testing.T, dir, announce string) string {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{1})
	for _, f := range testFiles {
		p := filepath.Join(dir, f.path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		out, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(out, rng, f.size); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	var ann []string
	if announce != "" {
		ann = []string{announce}
	}
	data, err := metainfo.Create(filepath.Join(dir, "t"), metainfo.CreateOptions{Announce: ann, PieceLength: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(t.TempDir(), "t.torrent")
	if err := os.WriteFile(tp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return tp
}

func sameTree(t *testing.T, a, b string) {
	t.Helper()
	for _, f := range testFiles {
		x, err := os.ReadFile(filepath.Join(a, f.path))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f.path))
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs from the source", f.path)
		}
	}
}

func testLogger(t *testing.T, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// startSeeder makes a torrent of fresh data and seeds it until the test
// ends; it returns the data's directory, the torrent and the seeder's address.
func startSeeder(t *testing.T, ctx context.Context, log hclog.Logger) (src, torrent string, addr netip.AddrPort) {
	t.Helper()
	src = t.TempDir()
	torrent = makeTorrent(t, src, "")
	var wg sync.WaitGroup
	ctx, stop := context.WithCancel(ctx)
	t.Cleanup(func() { stop(); wg.Wait() })
	seed := startSession(t, ctx, &wg, torrent, src, Options{Seed: true, Logger: log})
	return src, torrent, netip.MustParseAddrPort(seed.opts.Listener.Addr().String())
}

func startSession(t *testing.T, ctx context.Context, wg *sync.WaitGroup, torrent, dir string, opts Options) *Session {
	t.Helper()
	return startSessionOn(t, ctx, wg, "127.0.0.1:0", torrent, dir, opts)
}

// startSessionOn is startSession with the listener on addr.
func startSessionOn(t *testing.T, ctx context.Context, wg *sync.WaitGroup, addr, torrent, dir string, opts Options) *Session {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	opts.Dir, opts.Listener = dir, ln
	s, err := Open(torrent, opts)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer ln.Close()
		if err := s.Run(ctx); err != nil {
			t.Errorf("%s: Run: %v", dir, err)
		}
	}()
	return s
}

// One seeder and three leechers of our own, found through a tracker: every
// leecher ends with the seeder's bytes.
func TestSwarmOneSeederThreeLeechers(t *testing.T) {
	tr, err := minitracker.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	src := t.TempDir()
	torrent := makeTorrent(t, src, tr.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	seedCtx, stopSeed := context.WithCancel(ctx)
	seed := startSession(t, seedCtx, &wg, torrent, src, Options{Seed: true, Logger: testLogger(t, "seeder")})
	// Leechers that announce before the seeder would wait a whole
	// announce interval to hear of it.
	for st, ok := seed.Tracker(); !ok || st.LastAnnounce.IsZero(); st, ok = seed.Tracker() {
		if ctx.Err() != nil {
			t.Fatal("the seeder never announced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var lwg sync.WaitGroup
	dirs := make([]string, 3)
	for i := range dirs {
		dirs[i] = t.TempDir()
		startSession(t, ctx, &lwg, torrent, dirs[i], Options{Logger: testLogger(t, fmt.Sprint("leecher", i))})
	}
	lwg.Wait()
	stopSeed()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("swarm did not complete in time")
	}
	for _, d := range dirs {
		sameTree(t, src, d)
	}
}

// A leecher told of a peer directly (-peer) needs no tracker; a second run
// in the same directory finds everything verified and downloads nothing.
func TestDirectPeerAndResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, torrent, seedAddr := startSeeder(t, ctx, testLogger(t, "seeder"))

	dir := t.TempDir()
	var lwg sync.WaitGroup
	leech := startSession(t, ctx, &lwg, torrent, dir, Options{Peers: []netip.AddrPort{seedAddr}, Logger: testLogger(t, "leecher")})
	lwg.Wait()
	sameTree(t, src, dir)
	if st := leech.Stats(); st.Missing != 0 || st.Downloaded < leech.Meta().Info.Length {
		t.Fatalf("first run: missing %d, downloaded %d of %d", st.Missing, st.Downloaded, leech.Meta().Info.Length)
	}

	again := startSession(t, ctx, &lwg, torrent, dir, Options{Peers: []netip.AddrPort{seedAddr}, Logger: testLogger(t, "again")})
	lwg.Wait()
	if st := again.Stats(); st.Missing != 0 || st.Downloaded != 0 {
		t.Fatalf("second run: missing %d, downloaded %d; want 0 and 0", st.Missing, st.Downloaded)
	}
}
