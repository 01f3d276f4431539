package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// A magnet link with no peer, tracker or DHT: the only source of the
// metadata is a libtorrent seeder told to connect to us (connect_peer),
// which it does once, during the metadata phase. The phase accepts it,
// fetches the metadata from it, and hands its listen port (its extension
// handshake's p) to the swarm, which dials it for the data.
func TestMagnetMetadataFromIncomingSeeder(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	src, mi, seeder := ltSeeder(t, realpeers.LTOptions{ConnectTo: []string{ln.Addr().String()}})
	dir := t.TempDir()
	s, err := OpenMagnet(&magnet.Magnet{InfoHash: mi.InfoHash}, Options{Dir: dir, Listener: ln, Logger: testLogger(t, "magnet")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("Run: %v (ctx %v)", err, ctx.Err())
	}
	sameTree(t, src, dir)
	// The data came over the seeder's own connection, handed from the
	// metadata phase to the swarm: the seeder never took one from us.
	for _, p := range seeder.Peers() {
		if !p.Outgoing {
			t.Errorf("the seeder took a connection from %s: the swarm dialled it instead of adopting its connection", p.Addr)
		}
	}
}

// FetchMetadata alone (-metadata-only: Close without Run) stops
// accepting when it returns and leaves the listener open and usable: every
// connection made afterwards reaches whoever accepts next (here the test),
// none is taken by a leftover acceptor of the phase.
func TestMetadataOnlyStopsAccepting(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, mi, _ := ltSeeder(t, realpeers.LTOptions{ConnectTo: []string{ln.Addr().String()}})
	s, err := OpenMagnet(&magnet.Magnet{InfoHash: mi.InfoHash}, Options{Dir: t.TempDir(), Listener: ln, MetadataOnly: true,
		Logger: testLogger(t, "magnet")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := s.FetchMetadata(ctx); err != nil {
		t.Fatalf("FetchMetadata: %v", err)
	}
	s.Close()
	const n = 5
	for i := range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A handshake for our torrent: an acceptor still running would
		// answer it.
		wire.WriteHandshake(c, wire.NewHandshake(mi.InfoHash, [20]byte{byte(i)}))
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	for i := range n {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("connection %d of %d after FetchMetadata returned is not in the backlog: %v", i+1, n, err)
		}
		c.Close()
	}
}

// phaseRig is a magnet session of a fresh torrent, without peers, whose
// Run is in its metadata phase on a listener of its own.
type phaseRig struct {
	ln       net.Listener
	src, dir string
	torrent  string
	mi       *metainfo.MetaInfo
	s        *Session
	f        *fetcher
	ctx      context.Context
	runErr   chan error
}

func startPhase(t *testing.T) *phaseRig {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &phaseRig{ln: ln, src: t.TempDir(), dir: t.TempDir(), runErr: make(chan error, 1)}
	r.torrent = makeTorrent(t, r.src, "")
	if r.mi, err = metainfo.Load(r.torrent); err != nil {
		t.Fatal(err)
	}
	r.s, err = OpenMagnet(&magnet.Magnet{InfoHash: r.mi.InfoHash}, Options{Dir: r.dir, Listener: ln, Logger: testLogger(t, "magnet")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	r.ctx = ctx
	go func() { r.runErr <- r.s.Run(ctx) }()
	waitFor(t, ctx, "the metadata phase", func() bool { return r.s.fetcher.Load() != nil })
	r.f = r.s.fetcher.Load()
	return r
}

// finish has a libtorrent seeder connect to the session, which must then
// fetch the metadata and all the data from it.
func (r *phaseRig) finish(t *testing.T) {
	t.Helper()
	realpeers.StartLibtorrentSeeder(t, r.torrent, r.src, realpeers.LTOptions{ConnectTo: []string{r.ln.Addr().String()}})
	if err := <-r.runErr; err != nil || r.ctx.Err() != nil {
		t.Fatalf("Run: %v (ctx %v)", err, r.ctx.Err())
	}
	sameTree(t, r.src, r.dir)
}

// Hostile incoming peers of the metadata phase: a handshake for another
// torrent, plain or over MSE, is closed unanswered; a flood of silent
// connections takes the half-open slots and every connection over them is
// closed at once. None of that harms the phase: once the flood is gone, a
// libtorrent seeder that connects to us gives the metadata and the data.
func TestMetadataPhaseRefusesHostileIncoming(t *testing.T) {
	t.Parallel()
	r := startPhase(t)
	ln, mi, ctx, f := r.ln, r.mi, r.ctx, r.f

	other := mi.InfoHash
	other[0] ^= 0xff
	if got := answerTo(t, ln.Addr().String(), other, false); got == nil {
		t.Errorf("a plain handshake for another torrent was answered")
	}
	if got := answerTo(t, ln.Addr().String(), other, true); got == nil {
		t.Errorf("an MSE handshake for another torrent was answered")
	}

	const extra = 10
	var flood []net.Conn
	for range metaHalfOpen + extra {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	waitFor(t, ctx, "the flood refused over the half-open limit", func() bool { return f.refused.Load() >= extra })
	for _, c := range flood {
		c.Close()
	}
	// Its slots are given back as its connections end.
	waitFor(t, ctx, "the half-open slots given back", func() bool { return len(f.halfOpen) == 0 })

	r.finish(t)
}

// answerTo connects to addr with a handshake for infoHash, over MSE if
// encrypted, and returns the error of the first read of an answer; nil
// means a handshake came back. A connection closed unanswered gives EOF
// (or a reset); one left open times out, which is an error too.
func answerTo(t *testing.T, addr string, infoHash [20]byte, encrypted bool) error {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var hs [68]byte
	id := [20]byte{'-', 'X', 'X'}
	rw := c
	if encrypted {
		var ia writeBuf
		wire.WriteHandshake(&ia, wire.NewHandshake(infoHash, id))
		var r mse.Result
		if r, err = mse.Initiate(c, infoHash, mse.RC4|mse.Plaintext, ia); err == nil {
			rw = r.Conn
		}
	} else {
		err = wire.WriteHandshake(c, wire.NewHandshake(infoHash, id))
	}
	if err == nil {
		_, err = io.ReadFull(rw, hs[:])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the connection was left open instead of closed: %v", err)
	}
	return err
}

type writeBuf []byte

func (b *writeBuf) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// An incoming peer that sends metadata that does not match the info-hash
// is banned like one we dialled: the connection it opens again is closed
// unanswered, and the swarm that follows refuses its IP too. The metadata
// then comes from a libtorrent seeder that connects to us.
func TestMetadataPhaseBansIncomingLiar(t *testing.T) {
	t.Parallel()
	r := startPhase(t)
	ln, mi, f := r.ln, r.mi, r.f

	liarIP := netip.MustParseAddr("127.0.0.2")
	liar := hostilepeer.Start(t, hostilepeer.Torrent{InfoHash: mi.InfoHash, MetadataSize: len(mi.InfoBytes)},
		hostilepeer.WrongMetadata, hostilepeer.Options{IP: liarIP.String()})
	to := netip.MustParseAddrPort(ln.Addr().String())
	if answered, err := liar.DialMetadata(to); !answered || err != nil {
		t.Fatalf("the liar's first connection: answered %v, %v", answered, err)
	}
	if liar.MetadataSent() == 0 || !f.book.Banned(liarIP) {
		t.Fatalf("the liar sent %d metadata pieces and is banned: %v", liar.MetadataSent(), f.book.Banned(liarIP))
	}
	if answered, err := liar.DialMetadata(to); answered || err != nil {
		t.Fatalf("the banned liar connected again: answered %v, %v", answered, err)
	}

	r.finish(t)
	if !slices.Contains(r.s.bans, liarIP) {
		t.Errorf("the swarm was not given the ban of %v: %v", liarIP, r.s.bans)
	}
}

// At the end of the phase the incoming peers still connected are handed
// to the swarm with what was read of them in front; those that left are
// handed on as addresses to dial: the port their extension handshake
// named, else the one they came from.
func TestIncomingPeersHandedOver(t *testing.T) {
	t.Parallel()
	f := newFetcher([20]byte{1}, [20]byte{2}, 0, hclog.NewNullLogger())
	incoming := func(addr string, listenPort int) *metaConn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c := &metaConn{addr: netip.MustParseAddrPort(addr), conn: a, out: make(chan []byte, 8), quit: make(chan struct{}),
			size: 1000, theirID: 7, listenPort: listenPort, incoming: true, pending: map[int]bool{}}
		c.hand.r = wire.NewReader(a, 1<<10)
		c.hand.unwatch = func() bool { return true }
		f.up(c)
		return c
	}
	stays := incoming("127.0.0.1:40001", 6881)
	stays.hand.keep(&wire.HaveAll{})
	stays.hand.keep(&wire.Extended{ExtID: 3, Payload: []byte("ut_metadata: not kept")})
	stays.hand.keep(&wire.Unchoke{})
	named := incoming("127.0.0.2:40002", 6882)
	unnamed := incoming("127.0.0.3:40003", 0)
	f.drop(named, errors.New("left"))
	f.drop(unnamed, errors.New("left"))

	adopted := f.adoptable(f.detach())
	if len(adopted) != 1 || adopted[0].Addr != stays.addr || len(f.conns) != 0 {
		t.Fatalf("handed over %+v, %d left in the phase; want %v alone", adopted, len(f.conns), stays.addr)
	}
	want := wire.AppendMessage(wire.AppendMessage(nil, wire.HaveAll{}), wire.Unchoke{})
	got := make([]byte, len(want))
	if _, err := io.ReadFull(adopted[0].Conn, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the handed-over stream starts with %x (%v), want %x", got, err, want)
	}
	var dial []netip.AddrPort
	f.handOn(func(src addrbook.Source, addrs []netip.AddrPort) {
		if src != addrbook.PEX {
			t.Errorf("handed on as %v", src)
		}
		dial = append(dial, addrs...)
	})
	slices.SortFunc(dial, netip.AddrPort.Compare)
	if want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:6882"), unnamed.addr}; !slices.Equal(dial, want) {
		t.Fatalf("addresses handed on: %v, want %v", dial, want)
	}
}
