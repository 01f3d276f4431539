package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

const (
	blockSize    = 16 << 10
	maxBlockLen  = 128 << 10        // largest request we serve (BEP 3 allows up to 128 KiB in practice)
	keepAliveGap = 90 * time.Second // below BEP 3's two minutes, so peers' idle limits never fire
	// maxPeerRequests is how many requests a peer may have waiting with us
	// (we tell it so, BEP 10 reqq); more is a flood, and the peer is dropped.
	maxPeerRequests = 2048
)

// peerConn is the part of a peer its reader and writer share with the
// run loop: the socket, the writer's queue and the bytes uploaded.
type peerConn struct {
	conn     net.Conn
	out      *outbox
	uploaded atomic.Int64
	closeOne sync.Once
}

func (c *peerConn) close() {
	c.closeOne.Do(func() {
		c.conn.Close()
		c.out.shut()
	})
}

// peer is one connection as the run loop sees it. The fields above the
// line are fixed at creation.
type peer struct {
	*peerConn
	id       sdk.PeerID
	addr     netip.AddrPort
	peerID   [20]byte
	fast     bool
	ext      bool
	dht      bool            // its handshake announced a DHT node (BEP 5)
	src      addrbook.Source // where its address came from; Incoming for one that came to us
	outgoing bool            // we dialled it
	enc      mse.Method      // 0: a plain connection

	// run loop only
	dl             *dlPeer  // the downloader's handle
	exts           peerExts // what its extension handshake said (ext.go)
	peerInterested bool
	unservable     int // requests for pieces we do not have
	rates          peerRates
	lastUse        time.Time // last tick at which it was inUse
}

// addPeer takes a handshaken connection into the swarm.
func (s *Swarm) addPeer(ctx context.Context, h *handshook) {
	reason := ""
	switch {
	case s.book.Banned(h.addr.Addr()):
		reason = "banned"
	case s.byPeerID[h.hs.PeerID] != nil:
		reason = "already connected"
	case len(s.peers) >= s.cfg.MaxPeers && !s.evictUnused(time.Now()):
		reason = "too many peers"
	}
	if reason != "" {
		s.log.Debug("connection refused", "peer", h.addr, "reason", reason)
		h.conn.Close()
		if h.outgoing {
			s.book.Refused(h.addr)
		}
		return
	}
	src := addrbook.Incoming
	if h.outgoing {
		src = s.book.Sources(h.addr)
	}
	s.book.Connected(h.addr, h.outgoing)
	if src == 0 {
		src = s.book.Sources(h.addr) // a dial of an address the book had lost
	}
	p := &peer{
		peerConn: &peerConn{conn: h.conn, out: newOutbox()},
		id:       sdk.PeerID(s.nextID.Add(1)),
		addr:     h.addr,
		peerID:   h.hs.PeerID,
		fast:     h.hs.Fast(),
		ext:      h.hs.Extended(),
		dht:      h.hs.DHT(),
		src:      src,
		outgoing: h.outgoing,
		enc:      h.enc,
		lastUse:  time.Now(),
	}
	p.dl = newDLPeer(p.id, h.addr.Addr(), p.fast, p.out, s.cfg.NumPieces, time.Now())
	s.peers[p.id] = p
	s.byPeerID[p.peerID] = p
	s.dl.addPeer(p.dl)
	s.greet(p, h.adopted)
	s.picker.post(sdk.PeerJoined{Peer: p.id, Have: p.dl.has.Clone()})
	s.log.Debug("peer connected", "peer", p.addr, "client", wire.ClientName(p.peerID), "outgoing", h.outgoing,
		"mse", h.enc, "source", p.src)
	r := &peerReader{p: p, conn: p.conn, maxLen: max(s.cfg.NumPieces/8+64, maxBlockLen+64),
		idle: s.cfg.Timeouts.Idle, lim: s.dnLim, inbox: s.inbox}
	w := &peerWriter{c: p.peerConn, fast: p.fast, idle: s.cfg.Timeouts.Idle, lim: s.upLim, cache: s.upCache, disk: s.disk}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); r.run(ctx) }()
	go func() { defer s.wg.Done(); w.run(ctx) }()
}

// greet sends our extension handshake, what we have and our DHT port,
// and unchokes at once: this client never chokes.
func (s *Swarm) greet(p *peer, adopted bool) {
	var b []byte
	if p.ext {
		b = wire.AppendMessage(b, wire.Extended{ExtID: 0, Payload: s.extHandshake().Marshal()})
	}
	switch n := s.dl.have.Count(); {
	case adopted && n > 0:
		// Too late for a bitfield, which BEP 3 allows only first: what
		// we have goes as haves.
		for i := range s.cfg.NumPieces {
			if s.dl.have.Has(i) {
				b = wire.AppendMessage(b, haveMsg(i))
			}
		}
	case p.fast && n == s.cfg.NumPieces:
		b = wire.AppendMessage(b, wire.HaveAll{})
	case p.fast && n == 0:
		b = wire.AppendMessage(b, wire.HaveNone{})
	case n > 0:
		b = wire.AppendMessage(b, wire.Bitfield{Bits: s.dl.have.Bytes()})
	}
	if p.dht && s.dhtOn() {
		// After the bitfield, which BEP 3 wants first.
		b = wire.AppendMessage(b, wire.Port{Port: uint16(s.cfg.DHTPort)})
	}
	b = wire.AppendMessage(b, wire.Unchoke{})
	p.out.send(b)
}

// errProtocol marks a peer that broke the protocol.
var errProtocol = errors.New("protocol violation")

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

var errUnused = errors.New("neither side wanted anything of the other")

// inUse says p serves a purpose now: either side is interested, blocks
// are on their way either way, or it has pieces we lack (a change of the
// files chosen, or a lazy mount's next read, can make them wanted).
func (s *Swarm) inUse(p *peer) bool {
	return p.peerInterested || p.dl.interested || len(p.dl.inflight) > 0 || p.out.queued() > 0 ||
		lacks(s.dl.have, p.dl.has)
}

// lacks says has holds a piece that have does not.
func lacks(have, has bitfield.Bitfield) bool {
	a, b := have.Bytes(), has.Bytes()
	for i := range min(len(a), len(b)) {
		if b[i]&^a[i] != 0 {
			return true
		}
	}
	return false
}

// evictUnused drops the peer unused longest, if it has been for a tenth
// of Timeouts.Unused, to make room for a new connection; it reports
// whether it did.
func (s *Swarm) evictUnused(now time.Time) bool {
	var worst *peer
	for _, p := range s.peers {
		if !s.inUse(p) && (worst == nil || p.lastUse.Before(worst.lastUse)) {
			worst = p
		}
	}
	if worst == nil || now.Sub(worst.lastUse) < s.cfg.Timeouts.Unused/10 {
		return false
	}
	s.dropPeer(worst, errUnused)
	return true
}
