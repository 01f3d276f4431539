package swarm_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/wire"
)

// rawPeer is a scripted peer speaking the wire protocol by hand to a
// listening swarm.
type rawPeer struct {
	t  *testing.T
	c  net.Conn
	r  *wire.Reader
	hs wire.Handshake // the swarm's
	eh *wire.ExtHandshake
}

// connectRaw handshakes with the swarm at a; dht sets the DHT bit.
func connectRaw(t *testing.T, tr torrent, a net.Addr, id string, dht bool) *rawPeer {
	t.Helper()
	c := dialTo(t, a)
	var pid [20]byte
	copy(pid[:], id)
	hs := wire.NewHandshake(tr.infoHash, pid)
	if dht {
		hs.SetDHT()
	}
	if err := wire.WriteHandshake(c, hs); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	theirs, err := wire.ReadHandshake(c)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return &rawPeer{t: t, c: c, r: wire.NewReader(c, 1<<20), hs: theirs}
}

func (rp *rawPeer) send(ms ...wire.Message) {
	rp.t.Helper()
	var b []byte
	for _, m := range ms {
		b = wire.AppendMessage(b, m)
	}
	if _, err := rp.c.Write(b); err != nil {
		rp.t.Fatalf("send: %v", err)
	}
}

// sendExtHandshake names our ids: ut_metadata 3, ut_pex 4 (unless
// noPEX), listening port port.
func (rp *rawPeer) sendExtHandshake(port int, noPEX bool) {
	m := map[string]int{wire.ExtMetadata: 3, wire.ExtPEX: 4}
	if noPEX {
		delete(m, wire.ExtPEX)
	}
	rp.send(wire.Extended{Payload: wire.ExtHandshake{M: m, Port: port}.Marshal()})
}

// extMsg is an Extended message read from the swarm, copied.
type extMsg struct {
	id      uint8
	payload []byte
}

// read collects what the swarm sends for d: its extension messages (the
// handshake is kept in rp.eh) and its Port messages. err is why reading
// stopped early (the swarm closed the connection); nil after d.
func (rp *rawPeer) read(d time.Duration, stop func(extMsg) bool) (exts []extMsg, ports []uint16, err error) {
	rp.c.SetReadDeadline(time.Now().Add(d))
	for {
		m, err := rp.r.Next()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return exts, ports, nil
		}
		if err != nil {
			return exts, ports, err
		}
		switch m := m.(type) {
		case *wire.Port:
			ports = append(ports, m.Port)
		case *wire.Extended:
			e := extMsg{m.ExtID, bytes.Clone(m.Payload)}
			if e.id == 0 {
				h, herr := wire.ParseExtHandshake(e.payload)
				if herr != nil {
					rp.t.Fatalf("the swarm's extension handshake: %v", herr)
				}
				rp.eh = &h
				continue
			}
			exts = append(exts, e)
			if stop != nil && stop(e) {
				return exts, ports, nil
			}
		}
	}
}

// acceptCounter is a listener that counts who dials it.
type acceptCounter struct {
	ln net.Listener
	mu sync.Mutex
	n  int
}

func countAccepts(t *testing.T, ip string) *acceptCounter {
	ac := &acceptCounter{ln: listenOn(t, ip)}
	go func() {
		for {
			c, err := ac.ln.Accept()
			if err != nil {
				return
			}
			ac.mu.Lock()
			ac.n++
			ac.mu.Unlock()
			c.Close()
		}
	}()
	return ac
}

func (ac *acceptCounter) count() int {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.n
}

func (ac *acceptCounter) addr() netip.AddrPort { return netip.MustParseAddrPort(ac.ln.Addr().String()) }

func listenOn(t *testing.T, ip string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func pexPayload(added ...netip.AddrPort) []byte {
	var m wire.PEXMsg
	for _, a := range added {
		m.Added = append(m.Added, wire.PEXPeer{Addr: a})
	}
	return wire.AppendPEXMsg(nil, m)
}

// The extension handshake names ut_metadata with the info dictionary's
// size and ut_pex; ut_metadata requests get the pieces, and a piece past
// the end a reject.
func TestServesMetadata(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	info := bytes.Repeat([]byte("info dictionary "), 2000) // 32000 bytes: two pieces
	ln := listen(t)
	listening(t, tr, ln, newLog().logger(), func(c *swarm.Config) { c.Info = info })
	rp := connectRaw(t, tr, ln.Addr(), "-XX0001-metadata0000", false)
	rp.sendExtHandshake(0, false)
	for i := range 3 {
		rp.send(wire.Extended{ExtID: 1, Payload: wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: i})})
	}
	exts, _, err := rp.read(10*time.Second, func(e extMsg) bool { m, _ := wire.ParseMetadataMsg(e.payload); return m.Piece == 2 })
	if err != nil {
		t.Fatal(err)
	}
	if rp.eh == nil || rp.eh.M[wire.ExtMetadata] != 1 || rp.eh.M[wire.ExtPEX] != 2 || rp.eh.MetadataSize != len(info) {
		t.Fatalf("extension handshake %+v: want ut_metadata 1, ut_pex 2, metadata_size %d", rp.eh, len(info))
	}
	var got []byte
	var types []wire.MetadataType
	for _, e := range exts {
		if e.id != 3 {
			t.Fatalf("a message for our id %d, we named ut_metadata 3", e.id)
		}
		m, err := wire.ParseMetadataMsg(e.payload)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, m.Type)
		got = append(got, m.Data...)
	}
	if want := []wire.MetadataType{wire.MetadataData, wire.MetadataData, wire.MetadataReject}; !slices.Equal(types, want) {
		t.Fatalf("answers %v, want %v", types, want)
	}
	if !bytes.Equal(got, info) {
		t.Fatalf("served %d bytes that are not the info dictionary", len(got))
	}
}

// Without Config.Info every request is rejected.
func TestMetadataRejectedWithoutInfo(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	listening(t, tr, ln, newLog().logger(), func(*swarm.Config) {})
	rp := connectRaw(t, tr, ln.Addr(), "-XX0001-metadata0000", false)
	rp.sendExtHandshake(0, false)
	rp.send(wire.Extended{ExtID: 1, Payload: wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: 0})})
	exts, _, err := rp.read(10*time.Second, func(extMsg) bool { return true })
	if err != nil || len(exts) != 1 {
		t.Fatalf("%d answers, %v", len(exts), err)
	}
	if m, err := wire.ParseMetadataMsg(exts[0].payload); err != nil || m.Type != wire.MetadataReject || m.Piece != 0 {
		t.Fatalf("answer %+v, %v: want a reject of piece 0", m, err)
	}
	if rp.eh.MetadataSize != 0 {
		t.Fatalf("metadata_size %d announced with no info dictionary", rp.eh.MetadataSize)
	}
}

// A peer that asks for the metadata over and over and never reads is
// dropped once the answers waiting for it pass the bound; it does not
// make the swarm queue a copy of the info dictionary per request.
func TestMetadataRequestFloodDropped(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	info := bytes.Repeat([]byte{'i'}, 1<<20) // 64 pieces
	ln := listen(t)
	log := newLog()
	listening(t, tr, ln, log.logger(), func(c *swarm.Config) { c.Info = info })
	rp := connectRaw(t, tr, ln.Addr(), "-XX0001-flooder00000", false)
	rp.sendExtHandshake(0, false)
	// Never read: the socket buffers fill, the swarm's writer blocks and
	// answers pile up in its queue. 200k requests would be 3 GiB of
	// answers if each were queued.
	req := wire.AppendMessage(nil, wire.Extended{ExtID: 1, Payload: wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: 5})})
	batch := bytes.Repeat(req, 1000)
	var sendErr error
	for range 200 {
		rp.c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		if _, sendErr = rp.c.Write(batch); sendErr != nil {
			break
		}
	}
	if sendErr == nil {
		t.Fatal("the swarm took 200k metadata requests from a peer that reads nothing")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !log.contains("ut_metadata requests") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !log.contains("ut_metadata requests") {
		t.Fatalf("no drop for the flood (send ended with %v):\n%s", sendErr, log)
	}
}

// PEX in: the added peers of a ut_pex message are dialled. PEX out: a
// peer that speaks ut_pex is told of our other peers by their listening
// addresses (an incoming one by the port of its extension handshake). A
// malformed ut_pex message ends that connection only.
func TestPEXInAndOut(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	log := newLog()
	s := listening(t, tr, ln, log.logger(), func(*swarm.Config) {})
	target := countAccepts(t, "127.0.0.3")
	a := connectRaw(t, tr, ln.Addr(), "-XX0001-pexpeerA0000", false)
	a.sendExtHandshake(0, false)
	b := connectRaw(t, tr, ln.Addr(), "-XX0001-pexpeerB0000", false)
	b.sendExtHandshake(45678, true) // no ut_pex: told nothing
	a.send(wire.Extended{ExtID: 2, Payload: pexPayload(target.addr(), netip.MustParseAddrPort("127.0.0.3:0"))})
	exts, _, err := a.read(15*time.Second, func(e extMsg) bool { return e.id == 4 })
	if err != nil || len(exts) == 0 || exts[len(exts)-1].id != 4 {
		t.Fatalf("no ut_pex message from the swarm in 15 s (%v)", err)
	}
	m, err := wire.ParsePEXMsg(exts[len(exts)-1].payload)
	if err != nil {
		t.Fatal(err)
	}
	wantB := netip.MustParseAddrPort("127.0.0.1:45678")
	if len(m.Added) != 1 || m.Added[0].Addr != wantB {
		t.Fatalf("ut_pex added %+v, want only b at %v (a is not told of itself; the dialled target refused us)", m.Added, wantB)
	}
	deadline := time.Now().Add(10 * time.Second)
	for target.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if target.count() == 0 {
		t.Fatalf("the peer learned through PEX was not dialled:\n%s", log)
	}
	// A malformed message (a 5-byte "added") drops b, and only b.
	b.send(wire.Extended{ExtID: 2, Payload: []byte("d5:added5:abcdee")})
	if _, _, err := b.read(10*time.Second, nil); err == nil {
		t.Fatal("the connection that sent a malformed ut_pex is still open")
	}
	if !heldOpen(a.c, 500*time.Millisecond) {
		t.Fatal("a malformed ut_pex from one peer closed another")
	}
	deadline = time.Now().Add(5 * time.Second) // stats are published once a second
	for len(s.Stats().Peers) != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(s.Stats().Peers); n != 1 {
		t.Fatalf("%d peers left, want 1 (a)", n)
	}
}

// BEP 27: a private torrent does not advertise ut_pex, sends no ut_pex
// and dials nothing a peer's ut_pex names; nor does it speak DHT.
func TestPrivateTorrentNoPEX(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	log := newLog()
	s := listening(t, tr, ln, log.logger(), func(c *swarm.Config) { c.Private, c.DHTPort = true, 6881 })
	target := countAccepts(t, "127.0.0.4")
	a := connectRaw(t, tr, ln.Addr(), "-XX0001-privateA0000", true)
	a.sendExtHandshake(0, false)
	b := connectRaw(t, tr, ln.Addr(), "-XX0001-privateB0000", false)
	b.sendExtHandshake(45679, false)
	if a.hs.DHT() {
		t.Fatal("a private torrent's handshake announces a DHT node")
	}
	// Sent to the id a public swarm gives ut_pex, and to none other.
	a.send(wire.Extended{ExtID: 2, Payload: pexPayload(target.addr())})
	exts, ports, err := a.read(4*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rp := a.eh; rp == nil || rp.M[wire.ExtPEX] != 0 {
		t.Fatalf("extension handshake %+v: want no ut_pex", rp)
	}
	if len(exts) != 0 || len(ports) != 0 {
		t.Fatalf("a private torrent sent %d extension messages and Port %v", len(exts), ports)
	}
	if target.count() != 0 || s.Stats().Known != 0 {
		t.Fatalf("a private torrent used a ut_pex message: %d dials, %d known", target.count(), s.Stats().Known)
	}
}

// BEP 5: with DHTPort set our handshake has the DHT bit, a peer whose
// handshake has it too is sent Port, and a peer's Port reaches OnDHTPort
// with its IP (once per port). A peer without the bit is sent no Port.
func TestPortMessage(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	got := make(chan netip.AddrPort, 8)
	listening(t, tr, ln, newLog().logger(), func(c *swarm.Config) {
		c.DHTPort = 7777
		c.OnDHTPort = func(a netip.AddrPort) { got <- a }
	})
	a := connectRaw(t, tr, ln.Addr(), "-XX0001-dhtpeerA0000", true)
	if !a.hs.DHT() {
		t.Fatal("no DHT bit in the swarm's handshake")
	}
	_, ports, err := a.read(3*time.Second, nil)
	if err != nil || !slices.Equal(ports, []uint16{7777}) {
		t.Fatalf("Port messages %v (%v), want [7777]", ports, err)
	}
	b := connectRaw(t, tr, ln.Addr(), "-XX0001-dhtpeerB0000", false)
	if _, ports, err := b.read(3*time.Second, nil); err != nil || len(ports) != 0 {
		t.Fatalf("a peer without the DHT bit was sent Port %v (%v)", ports, err)
	}
	a.send(wire.Port{Port: 4321}, wire.Port{Port: 4321}, wire.Port{Port: 0}, wire.Port{Port: 4322})
	var reported []netip.AddrPort
	timeout := time.After(10 * time.Second)
	for len(reported) < 2 {
		select {
		case x := <-got:
			reported = append(reported, x)
		case <-timeout:
			t.Fatalf("OnDHTPort got %v, want 127.0.0.1:4321 and :4322", reported)
		}
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4321"), netip.MustParseAddrPort("127.0.0.1:4322")}
	if !slices.Equal(reported, want) {
		t.Fatalf("OnDHTPort got %v, want %v", reported, want)
	}
	select {
	case x := <-got:
		t.Fatalf("OnDHTPort called again with %v: a repeated port or port 0", x)
	case <-time.After(500 * time.Millisecond):
	}
}

// A seventh ut_pex message within a minute is a flood (libtorrent's
// rule): that peer is dropped, with a log line that says why.
func TestPEXFloodDropped(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	log := newLog()
	listening(t, tr, ln, log.logger(), func(*swarm.Config) {})
	a := connectRaw(t, tr, ln.Addr(), "-XX0001-pexflood0000", false)
	a.sendExtHandshake(0, false)
	for i := range 7 {
		a.send(wire.Extended{ExtID: 2, Payload: pexPayload(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.5"), uint16(1000+i)))})
	}
	if _, _, err := a.read(10*time.Second, nil); err == nil {
		t.Fatal("a peer that sent 7 ut_pex messages at once is still connected")
	}
	if !log.contains("ut_pex: 7 messages within 1m0s") {
		t.Fatalf("no log line for the flood:\n%s", log)
	}
}

// A peer that asks for every piece of a 2 MiB info dictionary at once, and
// reads, gets every piece: requests beyond what the writer has room for
// wait, they are not rejected.
func TestMetadataBurstServedWhole(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	info := make([]byte, 2<<20) // 128 pieces
	for i := range info {
		info[i] = byte(i / wire.MetadataPieceSize)
	}
	ln := listen(t)
	listening(t, tr, ln, newLog().logger(), func(c *swarm.Config) { c.Info = info })
	rp := connectRaw(t, tr, ln.Addr(), "-XX0001-metaburst000", false)
	rp.sendExtHandshake(0, false)
	n := wire.NumMetadataPieces(len(info))
	var reqs []wire.Message
	for i := range n {
		reqs = append(reqs, wire.Extended{ExtID: 1, Payload: wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: i})})
	}
	rp.send(reqs...)
	exts, _, err := rp.read(30*time.Second, func() func(extMsg) bool { k := 0; return func(extMsg) bool { k++; return k == n } }())
	if err != nil || len(exts) != n {
		t.Fatalf("%d answers of %d (%v)", len(exts), n, err)
	}
	got := make([]byte, 0, len(info))
	for i, e := range exts {
		m, err := wire.ParseMetadataMsg(e.payload)
		if err != nil || m.Type != wire.MetadataData || m.Piece != i {
			t.Fatalf("answer %d: %v piece %d (%v), want data of piece %d", i, m.Type, m.Piece, err, i)
		}
		got = append(got, m.Data...)
	}
	if !bytes.Equal(got, info) {
		t.Fatal("the pieces are not the info dictionary")
	}
}
