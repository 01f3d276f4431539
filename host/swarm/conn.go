package swarm

import (
	"sync"
	"sync/atomic"

	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/hashicorp/go-hclog"
	"net"
	"net/netip"
	"time"

	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/wire"
)

const dialTimeout = 5 * time.Second

// handshook is a connection whose BitTorrent handshake is done both ways;
// only handshake makes one, so conn is never nil.
type handshook struct {
	conn     net.Conn
	addr     netip.AddrPort
	hs       wire.Handshake
	outgoing bool
	enc      mse.Method // 0: plain BitTorrent handshake
	adopted  bool       // messages went both ways before the swarm had it
}

// Handshaken is a peer connection whose BitTorrent handshake was done
// before the swarm ran (Config.Adopt).
type Handshaken struct {
	// Conn reads the peer's messages from the first after its handshake:
	// anything read from it before is put back in front.
	Conn net.Conn
	Addr netip.AddrPort
	// Handshake is the peer's, with the BEP 6 bit cleared unless ours
	// offered it too.
	Handshake wire.Handshake
	Outgoing  bool       // we dialled it
	Enc       mse.Method // 0: plain
}

// adopt takes h as a peer within the limits, as a connection just
// handshaken; run loop only.
func (s *Swarm) adopt(ctx context.Context, h Handshaken) {
	sc := s.conn.newSock()
	if sc == nil {
		s.conn.refused.Add(1)
		h.Conn.Close()
		return
	}
	sc.Conn = h.Conn
	a := unmapAP(h.Addr)
	s.addPeer(ctx, &handshook{conn: sc, addr: a, hs: h.Handshake, outgoing: h.Outgoing, enc: h.Enc, adopted: true})
}

// connector opens and accepts peer connections within the socket limits
// (limits.go) and handshakes them. Each dial and each incoming handshake
// runs on a goroutine of its own; they hand the run loop established
// connections on conns and failed dials on failed, and touch nothing else
// of the swarm.
type connector struct {
	infoHash, peerID [20]byte
	skeys            mse.Lookup // the torrent incoming MSE peers may ask for
	encrypt          bool       // Config.EncryptOutgoing
	dht              bool       // announce our DHT node in the handshake (BEP 5)
	timeouts         Timeouts
	ln               net.Listener // nil for none
	log              hclog.Logger
	banned           func(netip.Addr) bool // safe from any goroutine
	sockets          slots                 // one per peer socket, any direction or state
	halfOpen         slots                 // one per incoming connection in its handshake
	refused          atomic.Int64          // incoming connections closed over a limit
	conns            chan *handshook       // established connections
	failed           chan netip.AddrPort   // dials that gave no connection
	wg               *sync.WaitGroup       // the swarm's: Run waits for these goroutines

	// Run loop only: when refusals were last logged (logRefused).
	refusedLogged int64
	refusedLogAt  time.Time
}

// dialKnown dials what the address book's policy allows now.
func (s *Swarm) dialKnown(ctx context.Context, now time.Time) {
	for _, a := range s.book.Dial(now, s.conn.sockets.free(), s.dl.complete()) {
		s.wg.Add(1)
		go s.conn.dial(ctx, a)
	}
}

func (cn *connector) dial(ctx context.Context, a netip.AddrPort) {
	defer cn.wg.Done()
	h, err := cn.connect(ctx, a, cn.encrypt)
	if err != nil && ctx.Err() == nil && mse.Fallback(err, cn.encrypt) {
		cn.log.Debug("handshake failed, retrying the other way", "peer", a, "encrypted", cn.encrypt, "error", err)
		h, err = cn.connect(ctx, a, !cn.encrypt)
	}
	if err != nil {
		// A failure has its own channel: conns carries only connections,
		// so nothing that takes one from it can meet one without a conn.
		cn.log.Debug("dial failed", "peer", a, "error", err)
		select {
		case cn.failed <- a:
		case <-ctx.Done():
		}
		return
	}
	select {
	case cn.conns <- h:
	case <-ctx.Done():
		h.conn.Close()
	}
}

// connect dials a and handshakes, starting with MSE if encrypt.
func (cn *connector) connect(ctx context.Context, a netip.AddrPort, encrypt bool) (*handshook, error) {
	c := cn.newSock()
	if c == nil {
		return nil, errNoSlot
	}
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", a.String())
	if err != nil {
		c.release()
		return nil, err
	}
	c.Conn = nc
	h, err := cn.handshake(ctx, c, a, true, encrypt)
	if err != nil {
		c.Close()
		return nil, err
	}
	return h, nil
}

// accept takes incoming connections until the listener closes. It never
// waits on a handshake: each runs on its own, within the limits, and a
// connection over them is closed at once.
func (cn *connector) accept(ctx context.Context) {
	defer cn.wg.Done()
	Accept(ctx, cn.ln, cn.log, func(c net.Conn) {
		if a, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil && cn.banned(a.Addr()) {
			c.Close()
			return
		}
		cn.incoming(ctx, c)
	})
}

// Accept hands take each connection ln accepts, until ctx ends or ln
// fails for good (closed, or an error that is not a shortage). take must
// not wait. Accept never closes ln: a magnet link's metadata phase accepts
// on the listener the swarm takes over, and ends Accept by cancelling ctx
// and setting a deadline in the past.
func Accept(ctx context.Context, ln net.Listener, log hclog.Logger, take func(net.Conn)) {
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			if pause = acceptRetry(err, pause); pause > 0 {
				log.Warn("accept failed, retrying", "error", err, "in", pause)
				if sleepCtx(ctx, pause) {
					continue
				}
				return
			}
			log.Warn("accept failed, no more incoming peers", "error", err)
			return
		}
		pause = 0
		take(c)
	}
}

// incoming handshakes c on its own goroutine, or closes it when the
// half-open or the socket limit is reached.
func (cn *connector) incoming(ctx context.Context, nc net.Conn) {
	if !cn.halfOpen.take() {
		cn.refused.Add(1)
		nc.Close()
		return
	}
	c := cn.newSock()
	if c == nil {
		cn.halfOpen.give()
		cn.refused.Add(1)
		nc.Close()
		return
	}
	c.Conn = nc
	a, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	cn.wg.Add(1)
	go func() {
		defer cn.wg.Done()
		defer cn.halfOpen.give() // once run has it, it is a peer or closed
		h, err := cn.handshake(ctx, c, a, false, false)
		if err != nil {
			cn.log.Debug("incoming handshake failed", "peer", a, "error", err)
			c.Close()
			return
		}
		select {
		case cn.conns <- h:
		case <-ctx.Done():
			c.Close()
		}
	}()
}

// handshake exchanges handshakes; an incoming peer must name our torrent
// before we answer (Respond). encrypt (outgoing only) starts with MSE.
func (cn *connector) handshake(ctx context.Context, sc *sock, a netip.AddrPort, outgoing, encrypt bool) (*handshook, error) {
	// A stop must not wait out a slow peer's deadline.
	defer context.AfterFunc(ctx, func() { sc.Close() })()
	start := time.Now()
	sc.SetDeadline(start.Add(cn.timeouts.Handshake))
	defer sc.SetDeadline(time.Time{})
	ours := wire.NewHandshake(cn.infoHash, cn.peerID)
	if cn.dht {
		ours.SetDHT()
	}
	if !outgoing {
		// Silence gets a shorter wait than a peer that has begun (see sock.Read).
		sc.hsExtend = start.Add(cn.timeouts.Handshake)
		sc.SetReadDeadline(start.Add(min(cn.timeouts.FirstBytes, cn.timeouts.Handshake)))
		c, theirs, method, err := Respond(sc, cn.skeys, ours)
		if err != nil {
			return nil, err
		}
		return &handshook{conn: c, addr: a, hs: theirs, enc: method}, nil
	}
	var c net.Conn = sc
	var method mse.Method
	if encrypt {
		// Our handshake rides in MSE's initial payload, always RC4, so it
		// need not wait for the peer's choice of method.
		var ia bytes.Buffer
		wire.WriteHandshake(&ia, ours)
		r, err := mse.Initiate(c, cn.infoHash, mse.RC4|mse.Plaintext, ia.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", mse.ErrInitiate, err)
		}
		c, method = r.Conn, r.Method
	} else if err := wire.WriteHandshake(c, ours); err != nil {
		return nil, err
	}
	theirs, err := readHandshake(c, ours, method)
	if err != nil {
		return nil, err
	}
	return &handshook{conn: c, addr: a, hs: theirs, outgoing: true, enc: method}, nil
}

// Respond is the answering side of the handshake on an incoming
// connection c, for the torrent and peer ID of ours: MSE or plain, as the
// peer opens (libtorrent, Transmission and qBittorrent open with MSE by
// default and try plain only after that fails; skeys names the torrents
// MSE may ask for). The peer must name our torrent, and not be us, before
// ours is sent. The caller sets c's deadlines. It returns the stream to
// use from now on (decrypting, or c), the peer's handshake and the MSE
// method (0: plain).
func Respond(c net.Conn, skeys mse.Lookup, ours wire.Handshake) (net.Conn, wire.Handshake, mse.Method, error) {
	r, err := mse.Accept(c, skeys)
	if err != nil {
		return nil, wire.Handshake{}, 0, err
	}
	theirs, err := readHandshake(r.Conn, ours, r.Method)
	if err != nil {
		return nil, wire.Handshake{}, 0, err
	}
	if err := wire.WriteHandshake(r.Conn, ours); err != nil {
		return nil, wire.Handshake{}, 0, err
	}
	return r.Conn, theirs, r.Method, nil
}

// readHandshake reads the peer's handshake and checks it is for our
// torrent and not from us; method is the MSE method under way, for the
// error.
func readHandshake(c net.Conn, ours wire.Handshake, method mse.Method) (wire.Handshake, error) {
	theirs, err := wire.ReadHandshake(c)
	switch {
	case err != nil && method != 0:
		return theirs, fmt.Errorf("after MSE (%v): %w", method, err)
	case err != nil:
		return theirs, err
	case theirs.InfoHash != ours.InfoHash:
		return theirs, fmt.Errorf("handshake for another torrent %x", theirs.InfoHash)
	case theirs.PeerID == ours.PeerID:
		return theirs, errors.New("connected to ourselves")
	}
	return theirs, nil
}
