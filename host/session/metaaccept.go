package session

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
)

// Incoming peers of the metadata phase. The session announces its port to
// trackers, the DHT and LSD from the start, so peers connect to us before
// the metadata is known; a magnet link whose only source of metadata is
// such a peer would otherwise never resolve. They are answered as the
// swarm answers them (swarm.Respond: MSE or plain, our info-hash only),
// within the swarm's limits, and used for ut_metadata like the peers we
// dial. The listener stays the swarm's: the phase stops its Accept with a
// deadline in the past, never by closing it, and clears the deadline
// before the swarm accepts.

const (
	// metaHalfOpen bounds incoming connections in their handshake, as the
	// swarm's MaxHalfOpen does; one over it is closed at once.
	metaHalfOpen = swarm.DefaultMaxHalfOpen
	// metaAcceptTimeout bounds an incoming peer's handshakes (MSE,
	// BitTorrent, extension): the swarm's default handshake timeout.
	metaAcceptTimeout = 10 * time.Second
)

// deadliner is a listener whose Accept can be ended without closing it
// (net.TCPListener, net.UnixListener).
type deadliner interface{ SetDeadline(time.Time) error }

// listen takes incoming peers on f.ln until ctx ends. The caller cancels
// ctx, calls stop, waits for f.wg, and then calls reset, which leaves the
// listener as it was for the swarm.
func (f *fetcher) listen(ctx context.Context) (stop, reset func()) {
	nop := func() {}
	if f.ln == nil {
		return nop, nop
	}
	dl, ok := f.ln.(deadliner)
	if !ok {
		f.log.Info("incoming peers wait for the metadata: the listener cannot stop accepting without closing", "type", f.ln)
		return nop, nop
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		swarm.Accept(ctx, f.ln, f.log, func(nc net.Conn) { f.incoming(ctx, nc) })
	}()
	return func() { dl.SetDeadline(time.Unix(1, 0)) }, func() { dl.SetDeadline(time.Time{}) }
}

// incoming handshakes nc on its own goroutine, or closes it at once when
// its IP is banned or the half-open limit is reached.
func (f *fetcher) incoming(ctx context.Context, nc net.Conn) {
	a, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if err != nil || f.book.Banned(a.Addr()) {
		nc.Close()
		return
	}
	select {
	case f.halfOpen <- struct{}{}:
	default:
		f.refused.Add(1)
		nc.Close()
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		release := func() { <-f.halfOpen }
		c, r, err := f.respond(ctx, nc, a)
		if err != nil {
			release()
			f.log.Debug("incoming handshake failed", "peer", a, "error", err)
			return
		}
		// The slot is held until the loop has the peer (or refused it):
		// so many sockets, no more, wait for it.
		f.serve(ctx, c, r, release)
	}()
}

// respond answers an incoming connection's handshakes: the BitTorrent one
// as the swarm does, then the extension handshakes.
func (f *fetcher) respond(ctx context.Context, nc net.Conn, a netip.AddrPort) (*metaConn, *wire.Reader, error) {
	// The phase's end closes every connection, whatever it waits on,
	// but those the swarm takes over (handover.go).
	unwatch := context.AfterFunc(ctx, func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(metaAcceptTimeout))
	c, hs, enc, err := swarm.Respond(nc, f.skeys, phaseHandshake(f.infoHash, f.peerID))
	if err == nil {
		_, err = c.Write(appendExtHandshake(nil))
	}
	var mc *metaConn
	var r *wire.Reader
	if err == nil {
		mc, r, err = f.awaitExt(c, a, hs, true)
	}
	if err != nil {
		unwatch()
		nc.Close()
		return nil, nil, err
	}
	mc.hand.enc, mc.hand.unwatch = enc, unwatch
	return mc, r, nil
}

// heardFrom remembers where an incoming peer can be dialled, for the
// swarm: at the port its extension handshake named, else where it came
// from. Those whose connection is not handed to the swarm are handed on as
// PEX addresses (what PEX would say of it): the address book never dials
// an address that is only Incoming.
func (f *fetcher) heardFrom(c *metaConn) {
	a := c.addr
	if c.listenPort > 0 {
		a = netip.AddrPortFrom(a.Addr(), uint16(c.listenPort))
	}
	if len(f.heard) < maxRemembered {
		f.heard[c.addr] = a
	}
}

// handOn gives the session's feed the addresses of the incoming peers of
// the phase whose connections the swarm did not take, so that it dials
// them. The feed keeps them for the swarm.
func (f *fetcher) handOn(add AddFunc) {
	if len(f.heard) == 0 {
		return
	}
	addrs := make([]netip.AddrPort, 0, len(f.heard))
	for _, a := range f.heard {
		addrs = append(addrs, a)
	}
	add(addrbook.PEX, addrs)
}
