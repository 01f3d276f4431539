package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/wire"
)

const (
	// ourMetadataID is the number our extension handshake gives
	// ut_metadata: peers send us its messages under it.
	ourMetadataID   = 3
	metaDialTimeout = 5 * time.Second
	// metaHandshake bounds the dial, both handshakes and the peer's
	// extension handshake.
	metaHandshake = 20 * time.Second
)

type metaEventKind int

const (
	evFailed metaEventKind = iota // no connection, or no handshake
	evUp                          // handshaken both ways, with the peer's extension handshake
	evMsg                         // a ut_metadata data or reject
	evDown                        // the connection ended
)

type metaEvent struct {
	kind metaEventKind
	addr netip.AddrPort
	conn *metaConn
	msg  wire.MetadataMsg
	err  error
}

// metaConn is one peer of the metadata phase. The fetcher's loop owns
// its fields but conn, out, quit and those its reader keeps (handover.go).
type metaConn struct {
	addr    netip.AddrPort
	peerID  [20]byte
	conn    net.Conn
	out     chan []byte   // to the writer; full means the peer does not read
	quit    chan struct{} // closed by stop
	once    sync.Once
	hand    handover // for the swarm to take the connection over
	size    int      // metadata_size the peer announced
	theirID int      // its number for ut_metadata; 0 if it has none
	// listenPort is the port its extension handshake says it listens on
	// (BEP 10 p); 0 if it said none.
	listenPort int
	incoming   bool // it connected to us
	inAsm      bool
	pending    map[int]bool // pieces asked of it in the attempt under way
	waiting    time.Time    // since when it owes us an answer
}

// stop ends the writer (and makes send a no-op), leaving conn open.
func (c *metaConn) stop() {
	c.once.Do(func() { close(c.quit) })
}

func (c *metaConn) close() {
	c.stop()
	c.conn.Close()
}

// send queues a message for the writer; false if the queue is full.
func (c *metaConn) send(b []byte) bool {
	select {
	case c.out <- b:
		return true
	case <-c.quit:
		return true // going anyway
	default:
		return false
	}
}

// report hands the loop an event; false once the phase is over.
func (f *fetcher) report(ctx context.Context, ev metaEvent) bool {
	select {
	case f.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// connect dials a, handshakes, and then reads the peer's messages until
// the connection ends; everything is reported to the loop.
func (f *fetcher) connect(ctx context.Context, a netip.AddrPort) {
	defer f.wg.Done()
	c, r, err := f.handshake(ctx, a)
	if err != nil {
		f.report(ctx, metaEvent{kind: evFailed, addr: a, err: err})
		return
	}
	f.serve(ctx, c, r, nil)
}

// serve hands the loop a handshaken peer, calls taken (if not nil) once
// the loop has it or the phase is over, and then reads the peer's
// messages until the connection ends or the swarm takes it over.
func (f *fetcher) serve(ctx context.Context, c *metaConn, r *wire.Reader, taken func()) {
	up := f.report(ctx, metaEvent{kind: evUp, addr: c.addr, conn: c})
	if taken != nil {
		taken()
	}
	if !up {
		c.close()
		return
	}
	f.wg.Add(1)
	go func() { defer f.wg.Done(); c.write() }()
	err := f.read(ctx, c, r)
	if c.hand.detached.Load() {
		return // the swarm's now (handover.go)
	}
	c.close()
	f.report(ctx, metaEvent{kind: evDown, addr: c.addr, conn: c, err: err})
}

// handshake opens the connection and exchanges the BitTorrent and the
// extension handshakes. Like the swarm's dials: a plain handshake the
// peer hangs up on (it takes only encrypted connections) is tried again
// with MSE, and with Options.EncryptOutgoing an MSE handshake that fails
// is tried again plain.
func (f *fetcher) handshake(ctx context.Context, a netip.AddrPort) (*metaConn, *wire.Reader, error) {
	c, r, err := f.handshakeOnce(ctx, a, f.encrypt)
	if err != nil && ctx.Err() == nil && mse.Fallback(err, f.encrypt) {
		f.log.Debug("handshake failed, retrying the other way", "peer", a, "encrypted", f.encrypt, "error", err)
		c, r, err = f.handshakeOnce(ctx, a, !f.encrypt)
	}
	return c, r, err
}

// handshakeOnce is one connection's attempt at handshake, encrypted (MSE,
// RC4 or plain as the peer picks) or not.
func (f *fetcher) handshakeOnce(ctx context.Context, a netip.AddrPort, encrypt bool) (*metaConn, *wire.Reader, error) {
	d := net.Dialer{Timeout: metaDialTimeout}
	raw, err := d.DialContext(ctx, "tcp", a.String())
	if err != nil {
		return nil, nil, err
	}
	// The phase's end closes every connection, whatever it waits on.
	context.AfterFunc(ctx, func() { raw.Close() })
	ok := false
	defer func() {
		if !ok {
			raw.Close()
		}
	}()
	raw.SetDeadline(time.Now().Add(metaHandshake))
	var out bytes.Buffer
	wire.WriteHandshake(&out, phaseHandshake(f.infoHash, f.peerID))
	nc := raw
	if encrypt {
		// The BitTorrent handshake rides in MSE's initial payload.
		r, err := mse.Initiate(raw, f.infoHash, mse.RC4|mse.Plaintext, out.Bytes())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", mse.ErrInitiate, err)
		}
		nc = r.Conn
		out.Reset()
	}
	if _, err := nc.Write(appendExtHandshake(out.Bytes())); err != nil {
		return nil, nil, err
	}
	hs, err := wire.ReadHandshake(nc)
	switch {
	case err != nil:
		return nil, nil, err
	case hs.InfoHash != f.infoHash:
		return nil, nil, fmt.Errorf("handshake for another torrent %x", hs.InfoHash)
	case hs.PeerID == f.peerID:
		return nil, nil, errors.New("connected to ourselves")
	}
	c, r, err := f.awaitExt(nc, a, hs, false)
	ok = err == nil
	return c, r, err
}

// phaseHandshake is our handshake in the metadata phase: without BEP 6,
// which would have us send have-none as the first message and make the
// swarm's bitfield or have-none, on a connection handed over to it, come
// late. The swarm's own connections offer it.
func phaseHandshake(infoHash, peerID [20]byte) wire.Handshake {
	h := wire.NewHandshake(infoHash, peerID)
	h.NoFast()
	return h
}

// appendExtHandshake appends our extension handshake to b.
func appendExtHandshake(b []byte) []byte {
	eh := wire.ExtHandshake{M: map[string]int{wire.ExtMetadata: ourMetadataID}, V: "torrent"}
	return wire.AppendMessage(b, wire.Extended{ExtID: 0, Payload: eh.Marshal()})
}

// awaitExt reads, after the BitTorrent handshakes, until the peer's
// extension handshake and makes the peer of the phase; the peer's messages
// before it (bitfield, have) mean nothing in this phase, but an incoming
// peer's are kept for the swarm. It clears nc's deadlines.
func (f *fetcher) awaitExt(nc net.Conn, a netip.AddrPort, hs wire.Handshake, incoming bool) (*metaConn, *wire.Reader, error) {
	if !hs.Extended() {
		return nil, nil, errors.New("the peer has no extension protocol (BEP 10), so no metadata exchange")
	}
	r := wire.NewReader(nc, maxMetaMsgLen)
	c := &metaConn{addr: a, peerID: hs.PeerID, conn: nc, out: make(chan []byte, 2*maxMetaRequests+8),
		quit: make(chan struct{}), incoming: incoming, pending: map[int]bool{}}
	c.hand.hs, c.hand.r = hs, r
	for {
		m, err := r.Next()
		if err != nil {
			return nil, nil, fmt.Errorf("waiting for the extension handshake: %w", err)
		}
		if incoming {
			c.hand.keep(m)
		}
		x, isExt := m.(*wire.Extended)
		if !isExt || x.ExtID != 0 {
			continue
		}
		theirs, err := wire.ParseExtHandshake(x.Payload)
		if err != nil {
			return nil, nil, err
		}
		id := theirs.M[wire.ExtMetadata]
		if id < 0 || id > 255 {
			id = 0
		}
		nc.SetDeadline(time.Time{})
		c.size, c.theirID, c.listenPort = theirs.MetadataSize, id, theirs.Port
		return c, r, nil
	}
}

// read passes ut_metadata data and rejects to the loop and answers the
// peer's requests with a reject: we have no metadata to give yet.
func (f *fetcher) read(ctx context.Context, c *metaConn, r *wire.Reader) error {
	for {
		c.conn.SetReadDeadline(time.Now().Add(metaIdle))
		if c.hand.detached.Load() {
			return errDetached // after the deadline: detach's own wins (handover.go)
		}
		m, err := r.Next()
		if err != nil {
			return err
		}
		if c.incoming {
			c.hand.keep(m)
		}
		x, ok := m.(*wire.Extended)
		if !ok || x.ExtID != ourMetadataID {
			continue
		}
		mm, err := wire.ParseMetadataMsg(x.Payload)
		if err != nil {
			return err
		}
		if mm.Type == wire.MetadataRequest {
			if c.theirID != 0 {
				rej := wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataReject, Piece: mm.Piece})
				c.send(wire.AppendMessage(nil, wire.Extended{ExtID: uint8(c.theirID), Payload: rej}))
			}
			continue
		}
		mm.Data = bytes.Clone(mm.Data) // the Reader reuses its buffer
		if !f.report(ctx, metaEvent{kind: evMsg, addr: c.addr, conn: c, msg: mm}) {
			return ctx.Err()
		}
	}
}

func (c *metaConn) write() {
	for {
		select {
		case <-c.quit:
			return
		case b := <-c.out:
			c.conn.SetWriteDeadline(time.Now().Add(metaHandshake))
			if _, err := c.conn.Write(b); err != nil {
				c.conn.Close()
				return
			}
		}
	}
}
