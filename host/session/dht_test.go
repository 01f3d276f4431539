package session

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/dht"
	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// dhtFound collects what startDHT hands the swarm.
type dhtFound struct {
	ch chan netip.AddrPort
}

func (f dhtFound) add(src addrbook.Source, addrs []netip.AddrPort) {
	for _, a := range addrs {
		if src != addrbook.DHT {
			panic(fmt.Sprintf("DHT peers handed on as %v", src))
		}
		select {
		case f.ch <- a:
		default:
		}
	}
}

// startDHT on one node for two torrents: the public one is looked up (the
// libtorrent seeder arrives, as addrbook.DHT) and announced with the
// listener's port; the private one (BEP 27) is never asked for, nor
// announced, although its lookup started first.
func TestStartDHTPublicAndPrivate(t *testing.T) {
	boot := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.1"})
	bootAddr := "127.0.0.1:" + strconv.Itoa(boot.Port)
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 100_000})
	torrent := realpeers.MakeTorrent(t, src, "", 15)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	seeder := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.3", Bootstrap: []string{bootAddr},
		Torrent: torrent, Dir: src})
	node, ln := dhtLeecher(t, bootAddr)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	privateHash := [20]byte{0xb, 0xe, 0xb, 0x27}
	private := &Session{infoHash: privateHash, opts: Options{DHT: node, Listener: ln}, log: hclog.NewNullLogger()}
	private.meta.Store(&metainfo.MetaInfo{InfoHash: privateHash, Info: metainfo.Info{Private: true}})
	none := dhtFound{make(chan netip.AddrPort, 64)}
	stopPrivate := private.startDHT(ctx, none.add)
	defer stopPrivate()

	public := &Session{infoHash: m.InfoHash, opts: Options{DHT: node, Listener: ln}, log: hclog.NewNullLogger()}
	public.meta.Store(m)
	got := dhtFound{make(chan netip.AddrPort, 64)}
	stopPublic := public.startDHT(ctx, got.add)
	defer stopPublic()
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), uint16(seeder.Port))
	var saw []netip.AddrPort
	for !slices.Contains(saw, want) {
		select {
		case a := <-got.ch:
			saw = append(saw, a)
		case <-ctx.Done():
			t.Fatalf("the seeder %v never came; saw %v", want, saw)
		}
	}
	publicHex := hex.EncodeToString(m.InfoHash[:])
	if err := boot.WaitLine(ctx, fmt.Sprintf("GOT_ANNOUNCE %s 127.0.0.2:%d", publicHex, ln.Addr().(*net.TCPAddr).Port)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*realpeers.Peer{boot, seeder} {
		if out := p.Output(); strings.Contains(out, hex.EncodeToString(privateHash[:])) {
			t.Errorf("a libtorrent node saw the private torrent's info-hash:\n%s", out)
		}
	}
	select {
	case a := <-none.ch:
		t.Errorf("the private torrent got a DHT peer %v", a)
	default:
	}
}

// Without a DHT node startDHT does nothing, and its stop returns.
func TestStartDHTWithoutNode(t *testing.T) {
	s := &Session{log: hclog.NewNullLogger()}
	s.meta.Store(&metainfo.MetaInfo{})
	s.startDHT(t.Context(), func(addrbook.Source, []netip.AddrPort) { t.Error("peers without a node") })()
}

// BEP 5's Port message joins the routing tables: two of our sessions,
// each with a DHT node that knows no other node, connect as peers; each
// sends its node's port and adds the other's, so both tables end with the
// other node.
func TestPortMessageAddsNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newNode := func(ip string) *dht.Node {
		n, err := dht.New(dht.Config{Addr: ip + ":0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	// On the peers' own IP: a Port message names a port, the IP is the peer's.
	a, b := newNode("127.0.0.1"), newNode("127.0.0.1")
	src := t.TempDir()
	torrent := makeTorrent(t, src, "")
	var wg sync.WaitGroup
	sctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	seed := startSession(t, sctx, &wg, torrent, src, Options{Seed: true, DHT: a, Logger: testLogger(t, "seeder")})
	seedAddr := netip.MustParseAddrPort(seed.opts.Listener.Addr().String())
	startSession(t, sctx, &wg, torrent, t.TempDir(), Options{Seed: true, DHT: b, Peers: []netip.AddrPort{seedAddr}, Logger: testLogger(t, "leecher")})
	for a.Nodes() == 0 || b.Nodes() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("routing tables after the peers met: %d and %d nodes, want 1 each", a.Nodes(), b.Nodes())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A magnet link's lookups start before its metadata says whether the
// torrent is private; once it says so (BEP 27), they stop. A libtorrent
// node on loopback sees the first round's get_peers and announce (the
// seeder is held back until then), and no second round (due dhtFirstGap
// after the first) follows.
func TestMagnetOfPrivateTorrentStopsDHT(t *testing.T) {
	t.Parallel()
	boot := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.1"})
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "p/a.bin", Size: 200_000})
	data, err := metainfo.Create(filepath.Join(src, "p"), metainfo.CreateOptions{Private: true, PieceLength: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(t.TempDir(), "p.torrent")
	if err := os.WriteFile(torrent, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	seed := startSession(t, ctx, &wg, torrent, src, Options{Seed: true, Logger: testLogger(t, "seeder")})
	gate := make(chan struct{})
	held := holdingProxy(t, seed.opts.Listener.Addr().String(), gate)

	node, ln := dhtLeecher(t, "127.0.0.1:"+strconv.Itoa(boot.Port))
	link := &magnet.Magnet{InfoHash: m.InfoHash, Peers: []netip.AddrPort{held}}
	s, err := OpenMagnet(link, Options{Dir: t.TempDir(), Listener: ln, DHT: node, Logger: testLogger(t, "magnet")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	started := time.Now()
	fetched := make(chan error, 1)
	go func() { fetched <- s.FetchMetadata(ctx) }()
	hexHash := hex.EncodeToString(m.InfoHash[:])
	announce := fmt.Sprintf("GOT_ANNOUNCE %s 127.0.0.2:%d", hexHash, ln.Addr().(*net.TCPAddr).Port)
	if err := boot.WaitLine(ctx, announce); err != nil {
		t.Fatalf("the metadata phase's first DHT round never reached the node: %v", err)
	}
	close(gate)
	if err := <-fetched; err != nil {
		t.Fatal(err)
	}
	if !s.Meta().Info.Private {
		t.Fatal("the fetched metadata is not private")
	}
	count := func() int { return strings.Count(boot.Output(), "GOT_GET_PEERS "+hexHash) }
	first := count()
	// Past the time of the second round, with a margin.
	time.Sleep(time.Until(started.Add(dhtFirstGap + 3*time.Second)))
	if n := count(); n != first {
		t.Errorf("the node saw %d get_peers for the private torrent after its metadata came, want none:\n%s", n-first, boot.Output())
	}
}

// dhtLeecher is a DHT node bootstrapped from boot and a peer listener, both
// on 127.0.0.2 (apart from the seeder's IP: libtorrent tells peers apart by
// IP), closed at the test's end.
func dhtLeecher(t *testing.T, boot string) (*dht.Node, net.Listener) {
	t.Helper()
	node, err := dht.New(dht.Config{Addr: "127.0.0.2:0", Bootstrap: []string{boot}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return node, ln
}
