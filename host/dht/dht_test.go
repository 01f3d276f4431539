package dht

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// ltBoot starts a libtorrent DHT node on 127.0.0.1 that everyone
// bootstraps from, and returns its HOST:PORT.
func ltBoot(t *testing.T) string {
	boot := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.1"})
	return "127.0.0.1:" + strconv.Itoa(boot.Port)
}

// ltSeeder makes a small torrent and seeds it from a libtorrent session on
// ip that announces to the DHT only; it returns the info-hash and the
// seeder's address.
func ltSeeder(t *testing.T, ip, boot string) ([20]byte, netip.AddrPort) {
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 100_000})
	torrent := realpeers.MakeTorrent(t, src, "", 15)
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	seeder := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: ip, Bootstrap: []string{boot},
		Torrent: torrent, Dir: src})
	return mi.InfoHash, netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(seeder.Port))
}

func newNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: testWriter{t}})
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// testWriter sends the node's log to the test's, shown on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

// waitPeer reads ch until want comes.
func waitPeer(t *testing.T, ctx context.Context, ch <-chan []netip.AddrPort, want netip.AddrPort) {
	t.Helper()
	var seen []netip.AddrPort
	for {
		select {
		case peers, ok := <-ch:
			if !ok {
				t.Fatalf("search ended before %v came; saw %v", want, seen)
			}
			for _, p := range peers {
				if p == want {
					return
				}
			}
			seen = append(seen, peers...)
		case <-ctx.Done():
			t.Fatalf("%v not found: %v; saw %v", want, ctx.Err(), seen)
		}
	}
}

func TestFindsLibtorrentSeeder(t *testing.T) {
	boot := ltBoot(t)
	ih, seeder := ltSeeder(t, "127.0.0.3", boot)
	n := newNode(t, Config{Addr: "127.0.0.2:0", Bootstrap: []string{boot}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// Asked at once, with an hour between rounds: a first round that finds
	// the bootstrap still under way retries soon, not in an hour.
	waitPeer(t, ctx, n.Peers(ctx, ih, time.Hour), seeder)
}

func TestLibtorrentFindsOurAnnounce(t *testing.T) {
	boot := ltBoot(t)
	n := newNode(t, Config{Addr: "127.0.0.2:0", Bootstrap: []string{boot}})
	ih := [20]byte{1, 2, 3, 4, 5}
	const btPort = 51413 // what we announce: our BitTorrent listener's port
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ch := n.Announce(ctx, ih, btPort, 500*time.Millisecond)
	go func() {
		for range ch {
		}
	}()
	getter := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.4", Bootstrap: []string{boot},
		GetPeers: hex.EncodeToString(ih[:])})
	if err := getter.WaitLine(ctx, "PEER 127.0.0.2:"+strconv.Itoa(btPort)); err != nil {
		t.Fatal(err)
	}
}

func TestRestartBootstrapsFromRoutingTableFile(t *testing.T) {
	boot := ltBoot(t)
	ih, seeder := ltSeeder(t, "127.0.0.3", boot)
	state := filepath.Join(t.TempDir(), "dht.nodes")
	first := newNode(t, Config{Addr: "127.0.0.2:0", Bootstrap: []string{boot}, StateFile: state})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	waitPeer(t, ctx, first.Peers(ctx, ih, 500*time.Millisecond), seeder)
	id := first.ID()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// No configured nodes: without the file this node knows nobody.
	alone := newNode(t, Config{Addr: "127.0.0.2:0"})
	if got := alone.Nodes(); got != 0 {
		t.Fatalf("a node without bootstrap nodes or file has %d nodes", got)
	}
	// The same port, as the client restarts: Close has released it.
	again := newNode(t, Config{Addr: first.Addr().String(), StateFile: state})
	if again.ID() != id {
		t.Errorf("node ID after restart %x, want the saved %x", again.ID(), id)
	}
	if again.Nodes() == 0 {
		t.Fatal("restart loaded no nodes from the routing table file")
	}
	waitPeer(t, ctx, again.Peers(ctx, ih, 500*time.Millisecond), seeder)
}

func TestCorruptRoutingTableFileIsIgnored(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dht.nodes")
	if err := os.WriteFile(state, []byte("TDHT\x01garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	var mu sync.Mutex
	n := newNode(t, Config{Addr: "127.0.0.2:0", StateFile: state,
		Logger: hclog.New(&hclog.LoggerOptions{Output: lockedWriter{&mu, &log}})})
	if n.Nodes() != 0 {
		t.Fatalf("%d nodes from a corrupt file", n.Nodes())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	logged := log.String()
	mu.Unlock()
	if !bytes.Contains([]byte(logged), []byte("routing table file ignored")) {
		t.Errorf("corrupt file not logged; log:\n%s", logged)
	}
	// Close replaced it with a good (empty) table keeping the new ID.
	f, err := readNodesFile(state)
	if err != nil {
		t.Fatalf("file after Close: %v", err)
	}
	if f.ID != n.ID() {
		t.Errorf("saved ID %x, want %x", f.ID, n.ID())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestIPv6NodesFindEachOther: three of our nodes on [::1]: b announces
// through the bootstrap node a, c finds b's peer (BEP 32 replies, compact
// IPv6 peers).
func TestIPv6NodesFindEachOther(t *testing.T) {
	a := newNode(t, Config{Addr: "[::1]:0"})
	boot := []string{a.Addr().String()}
	b := newNode(t, Config{Addr: "[::1]:0", Bootstrap: boot})
	c := newNode(t, Config{Addr: "[::1]:0", Bootstrap: boot})
	ih := [20]byte{6, 6, 6}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bch := b.Announce(ctx, ih, 6002, 300*time.Millisecond)
	go func() {
		for range bch {
		}
	}()
	waitPeer(t, ctx, c.Peers(ctx, ih, 300*time.Millisecond), netip.MustParseAddrPort("[::1]:6002"))
}

// TestFindsLibtorrentSeederOverIPv6: the libtorrent bootstrap node, the
// seeder and our node all on [::1].
func TestFindsLibtorrentSeederOverIPv6(t *testing.T) {
	bootPeer := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "::1"})
	boot := "[::1]:" + strconv.Itoa(bootPeer.Port)
	ih, seeder := ltSeeder(t, "::1", boot)
	n := newNode(t, Config{Addr: "[::1]:0", Bootstrap: []string{boot}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	waitPeer(t, ctx, n.Peers(ctx, ih, 500*time.Millisecond), seeder)
}

// TestTwoNodesFindEachOtherThroughLibtorrent: two of our nodes, each
// announcing its port, find each other through a libtorrent node.
//
// Both searches run until both have found the other: a search stopped as
// soon as its node has found the other one ends the traversal before its
// announce_peer (the announce comes at the end of a round, once the tokens
// are in), so a node that found the other in its first round was never
// announced, and the other looked in vain. That, not libtorrent, was why
// this test failed under -race.
func TestTwoNodesFindEachOtherThroughLibtorrent(t *testing.T) {
	boot := ltBoot(t)
	a := newNode(t, Config{Addr: "127.0.0.2:0", Bootstrap: []string{boot}})
	b := newNode(t, Config{Addr: "127.0.0.3:0", Bootstrap: []string{boot}})
	ih := [20]byte{9, 8, 7}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	achan := a.Announce(ctx, ih, 6001, 500*time.Millisecond)
	bchan := b.Announce(ctx, ih, 6002, 500*time.Millisecond)
	defer func() {
		cancel()
		for range achan {
		}
		for range bchan {
		}
	}()
	aWant, bWant := netip.MustParseAddrPort("127.0.0.3:6002"), netip.MustParseAddrPort("127.0.0.2:6001")
	var aSaw, bSaw []netip.AddrPort
	for !slices.Contains(aSaw, aWant) || !slices.Contains(bSaw, bWant) {
		select {
		case peers, ok := <-achan:
			if !ok {
				t.Fatal("a's search ended")
			}
			aSaw = append(aSaw, peers...)
		case peers, ok := <-bchan:
			if !ok {
				t.Fatal("b's search ended")
			}
			bSaw = append(bSaw, peers...)
		case <-ctx.Done():
			t.Fatalf("a saw %v (want %v), b saw %v (want %v): %v", aSaw, aWant, bSaw, bWant, ctx.Err())
		}
	}
}
