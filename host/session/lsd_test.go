package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/lsd"
	"github.com/torrent-dev/torrent/host/metainfo"
)

// lsdGroup is BEP 14's group on a free port, announced with TTL 0: the
// test's sessions hear each other and nothing beyond this host.
func lsdGroup(t *testing.T) *lsd.Config {
	t.Helper()
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	group := netip.AddrPortFrom(netip.MustParseAddr("239.192.152.143"), uint16(port)).String()
	return &lsd.Config{Group: group, HostOnly: true}
}

// startOnAll is startSession with a listener on every interface: a
// multicast announce comes from the host's own address, not 127.0.0.1.
func startOnAll(t *testing.T, ctx context.Context, wg *sync.WaitGroup, torrent, dir string, opts Options) *Session {
	t.Helper()
	return startSessionOn(t, ctx, wg, ":0", torrent, dir, opts)
}

// A leecher with no tracker and no peer given finds the seeder through
// local service discovery alone.
func TestLocalDiscovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	group := lsdGroup(t)
	src := t.TempDir()
	torrent := makeTorrent(t, src, "")
	var swg, lwg sync.WaitGroup
	seedCtx, stopSeed := context.WithCancel(ctx)
	defer func() { stopSeed(); swg.Wait() }()
	startOnAll(t, seedCtx, &swg, torrent, src, Options{Seed: true, LSD: group, Logger: testLogger(t, "seeder")})
	dir := t.TempDir()
	leech := startOnAll(t, ctx, &lwg, torrent, dir, Options{LSD: group, Logger: testLogger(t, "leecher")})
	lwg.Wait()
	if ctx.Err() != nil {
		t.Fatal("the leecher did not find the seeder")
	}
	sameTree(t, src, dir)
	if st := leech.Stats(); st.Missing != 0 {
		t.Fatalf("missing %d pieces", st.Missing)
	}
}

// A private torrent is never announced on the local network (BEP 27). A
// public one started at the same moment is heard, so the silence of the
// private one means something.
func TestLocalDiscoveryOffForPrivate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	group := lsdGroup(t)
	src := t.TempDir()
	heard := map[bool]chan netip.AddrPort{}
	var wg sync.WaitGroup
	sctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	for _, private := range []bool{true, false} {
		data, err := metainfo.Create(mustData(t, src), metainfo.CreateOptions{PieceLength: 64 << 10, Private: private})
		if err != nil {
			t.Fatal(err)
		}
		tp := filepath.Join(t.TempDir(), "p.torrent")
		if err := os.WriteFile(tp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := metainfo.Load(tp)
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan netip.AddrPort, 1)
		heard[private] = ch
		// A listener for this torrent's announces on the test group.
		l, err := lsd.Start(lsd.Config{InfoHash: m.InfoHash, Port: 1, Group: group.Group, HostOnly: true},
			func(a []netip.AddrPort) {
				select {
				case ch <- a[0]:
				default:
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		startOnAll(t, sctx, &wg, tp, src, Options{Seed: true, LSD: group, Logger: testLogger(t, fmt.Sprint("private=", private))})
	}
	select {
	case <-heard[false]:
	case <-ctx.Done():
		t.Fatal("the public torrent was never heard")
	}
	// Both announce as their swarms start, at about the same moment: a
	// second more is ample for the private one's to arrive if it were sent.
	select {
	case a := <-heard[true]:
		t.Fatalf("private torrent announced from %v", a)
	case <-time.After(time.Second):
	}
}

func mustData(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "p.bin")
	if _, err := os.Stat(p); err != nil {
		if err := os.WriteFile(p, make([]byte, 100<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}
