package dht

import (
	"context"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
)

// TestPortMessageNodeJoinsTable: a node learnt from a peer's BEP 5 Port
// message (here a libtorrent node, and nothing configured) is pinged, joins
// the routing table, and is enough to find a seeder.
func TestPortMessageNodeJoinsTable(t *testing.T) {
	boot := ltBoot(t)
	ih, seeder := ltSeeder(t, "127.0.0.3", boot)
	n := newNode(t, Config{Addr: "127.0.0.2:0"})
	if n.Port() == 0 || n.Port() != int(n.Addr().Port()) {
		t.Fatalf("Port() = %d, listening on %v", n.Port(), n.Addr())
	}
	if !n.AddNode(netip.MustParseAddrPort(boot)) {
		t.Fatal("AddNode refused a node")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for n.Nodes() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the pinged node never joined the routing table")
		case <-time.After(50 * time.Millisecond):
		}
	}
	waitPeer(t, ctx, n.Peers(ctx, ih, 500*time.Millisecond), seeder)
	// Port messages beyond maxPings in flight are dropped, not queued: the
	// addresses are dead, so those pings stay in flight.
	accepted := 0
	for i := range 3 * maxPings {
		if n.AddNode(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.9"), uint16(1+i))) {
			accepted++
		}
	}
	if accepted > maxPings {
		t.Errorf("%d pings in flight, cap %d", accepted, maxPings)
	}
	for _, bad := range []string{"0.0.0.0:6881", "127.0.0.1:0"} {
		if n.AddNode(netip.MustParseAddrPort(bad)) {
			t.Errorf("AddNode(%s) accepted", bad)
		}
	}
}

// TestCloseLeavesNoGoroutines: Close ends searches still running, pings in
// flight and the library's own goroutines.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	boot := ltBoot(t)
	ih, seeder := ltSeeder(t, "127.0.0.3", boot)
	n, err := New(Config{Addr: "127.0.0.2:0", Bootstrap: []string{boot}, StateFile: t.TempDir() + "/dht.nodes",
		SaveEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// Left unread and uncancelled after the seeder comes: Close ends it.
	waitPeer(t, ctx, n.Announce(ctx, ih, 6881, 200*time.Millisecond), seeder)
	left := n.Peers(context.Background(), krpc.RandomNodeID(), 100*time.Millisecond) // only Close ends it
	n.AddNode(netip.MustParseAddrPort("127.0.0.9:1"))                                // a ping that never gets an answer
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for range left { // closed by Close
	}
	for range 100 {
		if leaks := dhtGoroutines(); len(leaks) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("goroutines left after Close:\n%s", strings.Join(dhtGoroutines(), "\n\n"))
}

// dhtGoroutines are the stacks of goroutines running the node's or the
// library's code.
func dhtGoroutines() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/anacrolix/dht/v2") || strings.Contains(g, "host/dht.(*Node)") ||
			strings.Contains(g, "host/dht.(*peerStore)") {
			out = append(out, g)
		}
	}
	return out
}
