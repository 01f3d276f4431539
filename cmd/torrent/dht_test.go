package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// The DHT tests: no tracker that works (MakeTorrent's announce URL is a
// dead loopback port), no -peer; every peer comes from the DHT, which is a
// libtorrent node on loopback that everyone bootstraps from.

// dhtBoot starts the libtorrent DHT node on ip and returns it and its
// HOST:PORT.
func dhtBoot(t *testing.T, ip string) (*realpeers.Peer, string) {
	boot := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: ip})
	return boot, net.JoinHostPort(ip, strconv.Itoa(boot.Port))
}

// dhtTorrent makes data in a new directory and a torrent of it; it returns
// the directory, the torrent and its info-hash in hex.
func dhtTorrent(t *testing.T, size int64) (src, torrent, ih string) {
	src = t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: size}, realpeers.FileSpec{Path: "tree/b.txt", Size: 1000})
	torrent = realpeers.MakeTorrent(t, src, "", 16)
	return src, torrent, infoHashHex(t, torrent)
}

func infoHashHex(t *testing.T, torrent string) string {
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(m.InfoHash[:])
}

// udpPortFree says whether nothing listens on UDP port: no DHT node there.
func udpPortFree(port int) bool {
	c, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func waitLine(t *testing.T, p *realpeers.Peer, line string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	if err := p.WaitLine(ctx, line); err != nil {
		t.Fatal(err)
	}
}

// Two instances of this client, a seeder and a leecher of the same
// .torrent, find each other through the DHT alone.
func TestTwoInstancesFindEachOtherThroughDHT(t *testing.T) {
	t.Parallel()
	boot, bootAddr := dhtBoot(t, "127.0.0.1")
	src, torrent, ih := dhtTorrent(t, 2<<20)
	seeder := startClient(t, "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", src, torrent)
	port := atoi(t, seeder.waitFor(portRe, 30*time.Second)[1])
	// The seeder's announce_peer reached the libtorrent node, with its TCP
	// port: the leecher's first get_peers will be answered with it.
	waitLine(t, boot, fmt.Sprintf("GOT_ANNOUNCE %s 127.0.0.1:%d", ih, port), time.Minute)
	if udpPortFree(int(port)) {
		t.Fatalf("no DHT node on the seeder's UDP port %d", port)
	}
	dst := t.TempDir()
	leecher := startClient(t, "-seed=false", "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", dst, torrent)
	leecher.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// Our leecher finds a libtorrent seeder that announces only to the DHT. A
// bootstrap node that does not resolve is a warning, and the others serve.
// ("no..such" is not a valid name: the resolver refuses it without a
// query, so the test stays off the network.)
func TestLeechFromLibtorrentThroughDHT(t *testing.T) {
	t.Parallel()
	_, bootAddr := dhtBoot(t, "127.0.0.1")
	src, torrent, _ := dhtTorrent(t, 2<<20)
	realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.2", Bootstrap: []string{bootAddr},
		Torrent: torrent, Dir: src})
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-dht-bootstrap", "no..such:6881,"+bootAddr, "-dir", dst, torrent)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	if !regexp.MustCompile(`\[WARN\] .*dht bootstrap node not resolved: node=no\.\.such:6881`).MatchString(c.output()) {
		t.Errorf("no warning for the bootstrap node that does not resolve:\n%s", c.output())
	}
}

// A magnet link with only the info-hash, no tracker and no peer (and, as
// in every test, no local discovery): the metadata and the data come from
// a libtorrent seeder found through the DHT alone, bootstrapping from a
// libtorrent DHT node.
func TestMagnetThroughDHTAlone(t *testing.T) {
	t.Parallel()
	_, bootAddr := dhtBoot(t, "127.0.0.1")
	src, torrent, _ := dhtTorrent(t, 2<<20)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.2", Bootstrap: []string{bootAddr},
		Torrent: torrent, Dir: src})
	dst := t.TempDir()
	link := fmt.Sprintf("magnet:?xt=urn:btih:%x", m.InfoHash)
	c := startClient(t, "-v", "-seed=false", "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", dst, link)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// The same over IPv6: the libtorrent node and seeder on [::1], our node on
// its dual-stack socket, the peer dialled over IPv6.
func TestLeechFromLibtorrentThroughDHTOverIPv6(t *testing.T) {
	t.Parallel()
	_, bootAddr := dhtBoot(t, "::1")
	src, torrent, _ := dhtTorrent(t, 1<<20)
	seeder := realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "::1", Bootstrap: []string{bootAddr},
		Torrent: torrent, Dir: src})
	dst := t.TempDir()
	c := startClient(t, "-v", "-seed=false", "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", dst, torrent)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	if want := fmt.Sprintf("[::1]:%d", seeder.Port); !strings.Contains(c.output(), want) {
		t.Errorf("the log never names the seeder %s", want)
	}
}

var tableLoadedRe = regexp.MustCompile(`dht routing table loaded: .*nodes=([1-9]\d*)`)

// The routing table is kept in -dir: a second start, whose -dht-bootstrap
// points nowhere, finds the seeder again through the nodes in the file.
func TestDHTRoutingTableKeptInDir(t *testing.T) {
	t.Parallel()
	_, bootAddr := dhtBoot(t, "127.0.0.1")
	src, torrent, _ := dhtTorrent(t, 1<<20)
	realpeers.StartLibtorrentDHT(t, realpeers.LTDHTOptions{IP: "127.0.0.2", Bootstrap: []string{bootAddr},
		Torrent: torrent, Dir: src})
	dst := t.TempDir()
	first := startClient(t, "-seed=false", "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", dst, torrent)
	first.wait(2*time.Minute, 0)
	state := filepath.Join(dst, dhtStateFile)
	if st, err := os.Stat(state); err != nil || st.Size() <= 27 { // 27 bytes: the header, no node
		t.Fatalf("routing table file after the first run: %v, %v", st, err)
	}
	// Without the data, the second run must find the seeder again.
	if err := os.RemoveAll(filepath.Join(dst, "tree")); err != nil {
		t.Fatal(err)
	}
	second := startClient(t, "-v", "-seed=false", "-up-rate", "0", "-dht-bootstrap", "127.0.0.1:1", "-dir", dst, torrent)
	second.wait(2*time.Minute, 0)
	if !tableLoadedRe.MatchString(second.output()) {
		t.Errorf("the second run logged no nodes loaded from %s", state)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// A private torrent (BEP 27) makes no DHT traffic: the libtorrent node sees
// get_peers and announce_peer for a public torrent's client started after
// it, never for the private one, and the private one's client has no DHT
// node at all.
func TestPrivateTorrentMakesNoDHTTraffic(t *testing.T) {
	t.Parallel()
	boot, bootAddr := dhtBoot(t, "127.0.0.1")
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 1 << 20})
	private := filepath.Join(t.TempDir(), "private.torrent")
	if out, code := runTorrent(t, src, "create", "-private", "-a", "http://127.0.0.1:1/announce", "-o", private, "tree"); code != 0 {
		t.Fatalf("create -private: exit %d\n%s", code, out)
	}
	privateHash := infoHashHex(t, private)
	c := startClient(t, "-v", "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", src, private)
	port := atoi(t, c.waitFor(portRe, 30*time.Second)[1])
	c.waitFor(regexp.MustCompile(`checked data on disk`), 30*time.Second)

	// The control: a public torrent's client, started later, is seen.
	psrc, public, publicHash := dhtTorrent(t, 1<<20)
	pub := startClient(t, "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", psrc, public)
	pport := atoi(t, pub.waitFor(portRe, 30*time.Second)[1])
	waitLine(t, boot, "GOT_GET_PEERS "+publicHash, time.Minute)
	waitLine(t, boot, fmt.Sprintf("GOT_ANNOUNCE %s 127.0.0.1:%d", publicHash, pport), time.Minute)

	if out := boot.Output(); strings.Contains(out, privateHash) {
		t.Errorf("the DHT node saw the private torrent's info-hash:\n%s", out)
	}
	if !udpPortFree(int(port)) {
		t.Errorf("a DHT node listens on UDP port %d for a private torrent", port)
	}
	if !strings.Contains(c.output(), "private torrent: DHT off") {
		t.Errorf("the log does not say why the DHT is off")
	}
}

// -dht=false starts no node: nothing on the UDP port, nothing at the
// libtorrent node.
func TestDHTOffStartsNoNode(t *testing.T) {
	t.Parallel()
	boot, bootAddr := dhtBoot(t, "127.0.0.1")
	src, torrent, ih := dhtTorrent(t, 1<<20)
	c := startClient(t, "-dht=false", "-v", "-up-rate", "0", "-dht-bootstrap", bootAddr, "-dir", src, torrent)
	port := atoi(t, c.waitFor(portRe, 30*time.Second)[1])
	c.waitFor(regexp.MustCompile(`checked data on disk`), 30*time.Second)
	if !udpPortFree(int(port)) {
		t.Errorf("something listens on UDP port %d with -dht=false", port)
	}
	if strings.Contains(c.output(), "DHT node started") {
		t.Errorf("the log says a DHT node started")
	}
	if strings.Contains(boot.Output(), ih) {
		t.Errorf("the DHT node saw the torrent's info-hash:\n%s", boot.Output())
	}
}

func TestDHTBootstrapFlag(t *testing.T) {
	var b bootstrapFlag
	if err := b.Set("127.0.0.1:6881, router.example:25401,[::1]:7,"); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "127.0.0.1:6881,router.example:25401,[::1]:7" {
		t.Errorf("parsed %q", got)
	}
	for _, bad := range []string{"127.0.0.1", "host:0", "host:70000", ":6881", "host:x"} {
		if err := b.Set(bad); err == nil {
			t.Errorf("-dht-bootstrap %q accepted", bad)
		}
	}
	out, code := runTorrent(t, t.TempDir(), "-dht-bootstrap", "nohost", "x.torrent")
	if code != 2 || !strings.Contains(out, "nohost") {
		t.Errorf("a bad -dht-bootstrap: exit %d, want 2 naming it:\n%s", code, out)
	}
}
