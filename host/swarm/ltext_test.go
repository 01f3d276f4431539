package swarm_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/pick"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/sdk"
)

// realTorrent is test data in src (src/tree, realpeers.DefaultTree, about
// 12 MiB) and its .torrent made by mktorrent.
type realTorrent struct {
	src, path string
	meta      *metainfo.MetaInfo
	info      []byte // the info dictionary as bencoded in the file
}

func newRealTorrent(t *testing.T) realTorrent {
	t.Helper()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	path := realpeers.MakeTorrent(t, src, "", 16)
	m, err := metainfo.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return realTorrent{src: src, path: path, meta: m, info: m.InfoBytes}
}

// runReal runs our swarm for rt with its data in dir (checked first)
// until the test ends or, without Seed, until it completes; the returned
// channel gives Run's result.
func runReal(t *testing.T, ctx context.Context, rt realTorrent, dir string, fixed []netip.AddrPort, set func(*swarm.Config)) (*swarm.Swarm, <-chan error, *testLog) {
	t.Helper()
	info := &rt.meta.Info
	log := newLog()
	st, err := storage.Open(dir, session.Layout(info, nil))
	if err != nil {
		t.Fatal(err)
	}
	have, err := st.Verify(ctx, func(int, int) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEmpty(); err != nil { // as the session does: the swarm writes only pieces
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	pm := pick.Start(ctx, pick.Config{Torrent: sdk.Torrent{NumPieces: info.NumPieces(), PieceLength: info.PieceLength,
		TotalLength: info.Length}, Have: have})
	var id [20]byte
	copy(id[:], "-TZ0100-")
	copy(id[8:], fmt.Sprintf("%012d", time.Now().UnixNano()%1e12))
	cfg := swarm.Config{InfoHash: rt.meta.InfoHash, PeerID: id, NumPieces: info.NumPieces(), PieceLength: info.PieceLength,
		TotalLength: info.Length, Have: have, Storage: st, Picker: pm, Logger: log.logger(), Info: rt.info}
	set(&cfg)
	s := swarm.New(cfg)
	done := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); done <- s.Run(ctx, fixed) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		pm.Close()
		st.Close()
		if t.Failed() {
			t.Logf("our swarm's log:\n%s", log)
		}
	})
	return s, done, log
}

func listenLocal(t *testing.T) (net.Listener, netip.AddrPort) {
	ln := listen(t)
	return ln, netip.MustParseAddrPort(ln.Addr().String())
}

// A libtorrent leecher given only a magnet link whose x.pe is us fetches
// the info dictionary from us over ut_metadata, then the data.
func TestLibtorrentMagnetLeecherGetsMetadataFromUs(t *testing.T) {
	t.Parallel()
	rt := newRealTorrent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	ln, us := listenLocal(t)
	runReal(t, ctx, rt, rt.src, nil, func(c *swarm.Config) { c.Listener, c.Seed = ln, true })
	magnet := fmt.Sprintf("magnet:?xt=urn:btih:%x&dn=tree&x.pe=%s", rt.meta.InfoHash, us)
	dst := t.TempDir()
	lt := realpeers.StartLibtorrentLeecher(t, magnet, dst, realpeers.LTOptions{})
	if err := lt.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("METADATA sha1=%x", rt.meta.InfoHash); !strings.Contains(lt.Output(), want+"\n") {
		t.Fatalf("no %q from libtorrent:\n%s", want, lt.Output())
	}
	realpeers.SameFiles(t, rt.src, dst)
}

// PEX in: we know only a libtorrent leecher M that knows the seeder S; M
// moves 16 kB/s each way (12 MiB would take it over 12 minutes, and it
// stays connected to S as a leecher); we learn S from M's ut_pex and
// finish from it.
func TestPEXFromLibtorrent(t *testing.T) {
	t.Parallel()
	rt := newRealTorrent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seeder := realpeers.StartLibtorrentSeeder(t, rt.path, rt.src, realpeers.LTOptions{})
	sAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(seeder.Port))
	m := realpeers.StartLibtorrentLeecher(t, rt.path, t.TempDir(), realpeers.LTOptions{
		ConnectTo: []string{sAddr.String()}, UploadRateLimit: 16_000, DownloadRateLimit: 16_000})
	mAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(m.Port))
	dir := t.TempDir()
	s, done, log := runReal(t, ctx, rt, dir, []netip.AddrPort{mAddr}, func(*swarm.Config) {})
	if err := <-done; err != nil || ctx.Err() != nil {
		t.Fatalf("run: %v, %v; %d pieces missing", err, ctx.Err(), s.Stats().Missing)
	}
	realpeers.SameFiles(t, rt.src, dir)
	// The source is the address book's when the connection was made.
	connected := regexp.MustCompile(`peer connected: peer=` + regexp.QuoteMeta(sAddr.String()) + ` .*source=([a-z+]+)`)
	got := connected.FindStringSubmatch(log.String())
	if got == nil || !strings.Contains(got[1], addrbook.PEX.String()) {
		t.Fatalf("the seeder %v was never connected as a peer found through PEX (%q)", sAddr, got)
	}
}

// PEX out: a libtorrent leecher L told only of us can complete only
// from the libtorrent seeder S, and L and S can meet only through our
// ut_pex (we tell each of the other; whichever dials first): we
// upload at 1 byte/s (64 KiB of burst, of 12 MiB), and download from S at
// 20 kB/s, so that we stay a leecher connected to S.
func TestPEXToLibtorrent(t *testing.T) {
	t.Parallel()
	rt := newRealTorrent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seeder := realpeers.StartLibtorrentSeeder(t, rt.path, rt.src, realpeers.LTOptions{})
	sAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(seeder.Port))
	ln, us := listenLocal(t)
	s, _, _ := runReal(t, ctx, rt, t.TempDir(), []netip.AddrPort{sAddr}, func(c *swarm.Config) {
		c.Listener, c.Seed, c.UpRate, c.DownRate = ln, true, 1, 20_000
	})
	dst := t.TempDir()
	l := realpeers.StartLibtorrentLeecher(t, rt.path, dst, realpeers.LTOptions{ConnectTo: []string{us.String()}})
	if err := l.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	realpeers.SameFiles(t, rt.src, dst)
	if up := s.Stats().Uploaded; up > rt.meta.Info.Length/10 {
		t.Fatalf("we uploaded %d bytes of %d: the test does not show that the seeder served it", up, rt.meta.Info.Length)
	}
	lAddr := fmt.Sprintf("127.0.0.1:%d", l.Port)
	if !dialledFromPEX(l, sAddr.String()) && !dialledFromPEX(seeder, lAddr) {
		t.Fatalf("neither libtorrent peer dialled the other as a peer learned through PEX; L's peers %+v, S's %+v",
			l.Peers(), seeder.Peers())
	}
}

// dialledFromPEX: the libtorrent peer p dialled addr, learned through PEX.
func dialledFromPEX(p *realpeers.Peer, addr string) bool {
	for _, lp := range p.Peers() {
		if lp.Addr == addr && strings.Contains(lp.Source, "pex") && lp.Outgoing {
			return true
		}
	}
	return false
}
