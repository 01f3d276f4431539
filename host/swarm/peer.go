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

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
)

const (
	blockSize    = 16 << 10
	maxBlockLen  = 128 << 10        // largest request we serve (BEP 3 allows up to 128 KiB in practice)
	keepAliveGap = 90 * time.Second // below BEP 3's two minutes, so peers' idle limits never fire
	// maxPeerRequests is how many requests a peer may have waiting with us
	// (we tell it so, BEP 10 reqq); more is a flood, and the peer is dropped.
	maxPeerRequests = 2048
)

// peer is one connection. Fields above the line are fixed at creation or
// shared with its goroutines; the rest belong to the run loop.
type peer struct {
	id       sdk.PeerID
	addr     netip.AddrPort
	peerID   [20]byte
	conn     net.Conn
	fast     bool
	ext      bool
	out      *outbox
	uploaded atomic.Int64
	closeOne sync.Once

	// run loop only
	dl             *dlPeer // the downloader's handle
	peerInterested bool
	unservable     int // requests for pieces we do not have
	rates          peerRates
}

func (p *peer) close() {
	p.closeOne.Do(func() {
		p.conn.Close()
		p.out.shut()
	})
}

// addPeer takes a handshaken connection into the swarm.
func (s *Swarm) addPeer(ctx context.Context, h *handshook) {
	reason := ""
	switch {
	case s.book.Banned(h.addr.Addr()):
		reason = "banned"
	case s.byPeerID[h.hs.PeerID] != nil:
		reason = "already connected"
	case len(s.peers) >= s.cfg.MaxPeers:
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
	s.book.Connected(h.addr, h.outgoing)
	p := &peer{
		id:     sdk.PeerID(s.nextID.Add(1)),
		addr:   h.addr,
		peerID: h.hs.PeerID,
		conn:   h.conn,
		fast:   h.hs.Fast(),
		ext:    h.hs.Extended(),
		out:    newOutbox(),
	}
	p.dl = newDLPeer(p.id, h.addr.Addr(), p.fast, p.out, s.cfg.NumPieces, time.Now())
	s.peers[p.id] = p
	s.byPeerID[p.peerID] = p
	s.dl.addPeer(p.dl)
	s.greet(p)
	s.post(sdk.PeerJoined{Peer: p.id, Have: p.dl.has.Clone()})
	s.log.Debug("peer connected", "peer", p.addr, "client", wire.ClientName(p.peerID), "outgoing", h.outgoing,
		"mse", h.enc)
	s.wg.Add(2)
	go s.readLoop(ctx, p)
	go s.writeLoop(ctx, p)
}

// greet sends what we have and unchokes at once: this client never chokes.
func (s *Swarm) greet(p *peer) {
	var b []byte
	if p.ext {
		eh := wire.ExtHandshake{M: map[string]int{}, V: clientVersion, Reqq: maxPeerRequests}
		b = wire.AppendMessage(b, wire.Extended{ExtID: 0, Payload: eh.Marshal()})
	}
	switch n := s.dl.have.Count(); {
	case p.fast && n == s.cfg.NumPieces:
		b = wire.AppendMessage(b, wire.HaveAll{})
	case p.fast && n == 0:
		b = wire.AppendMessage(b, wire.HaveNone{})
	case n > 0:
		b = wire.AppendMessage(b, wire.Bitfield{Bits: s.dl.have.Bytes()})
	}
	b = wire.AppendMessage(b, wire.Unchoke{})
	p.out.send(b)
}

// inMsg is one message from a peer's reader, copied out of the reader's
// buffer, or the error that ended the connection.
type inMsg struct {
	p     *peer
	m     wire.Message // fixed-size messages, by value
	block []byte       // Piece data, from blockPool
	bytes []byte       // Bitfield bits or Extended payload (copied)
	err   error
}

func (m inMsg) release() {
	if m.block != nil {
		putBlock(m.block)
	}
}

var blockPool = sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}

func getBlock(n int) []byte {
	if n > blockSize {
		return make([]byte, n)
	}
	return (*blockPool.Get().(*[]byte))[:n]
}

func putBlock(b []byte) {
	if cap(b) == blockSize {
		b = b[:blockSize]
		blockPool.Put(&b)
	}
}

func (s *Swarm) readLoop(ctx context.Context, p *peer) {
	defer s.wg.Done()
	maxLen := max(s.cfg.NumPieces/8+64, maxBlockLen+64)
	r := wire.NewReader(p.conn, maxLen)
	var deadline time.Time
	idle := s.cfg.Timeouts.Idle
	for {
		// Moved on at most every idle/16, not on every message.
		if now := time.Now(); now.Add(idle - idle/16).After(deadline) {
			deadline = now.Add(idle)
			p.conn.SetReadDeadline(deadline)
		}
		m, err := r.Next()
		var in inMsg
		if err != nil {
			in = inMsg{p: p, err: err}
		} else {
			in = copyMsg(p, m)
		}
		if b := in.block; b != nil {
			if err := s.dnLim.Wait(ctx, len(b)); err != nil {
				in.release()
				return
			}
		}
		select {
		case s.inbox <- in:
		case <-ctx.Done():
			in.release()
			return
		}
		if err != nil {
			return
		}
	}
}

// copyMsg detaches a message from the reader's buffer.
func copyMsg(p *peer, m wire.Message) inMsg {
	in := inMsg{p: p}
	switch m := m.(type) {
	case *wire.Piece:
		in.block = getBlock(len(m.Data))
		copy(in.block, m.Data)
		in.m = wire.Piece{Index: m.Index, Begin: m.Begin}
	case *wire.Bitfield:
		in.bytes = append([]byte(nil), m.Bits...)
		in.m = wire.Bitfield{}
	case *wire.Extended:
		in.bytes = append([]byte(nil), m.Payload...)
		in.m = wire.Extended{ExtID: m.ExtID}
	case *wire.Unknown:
		in.m = wire.Unknown{MsgID: m.MsgID}
	default:
		in.m = deref(m)
	}
	return in
}

// deref turns the reader's pointers to fixed-size messages into values.
func deref(m wire.Message) wire.Message {
	switch m := m.(type) {
	case *wire.Have:
		return *m
	case *wire.Request:
		return *m
	case *wire.Cancel:
		return *m
	case *wire.Reject:
		return *m
	case *wire.Suggest:
		return *m
	case *wire.AllowedFast:
		return *m
	case *wire.Port:
		return *m
	case *wire.Choke:
		return wire.Choke{}
	case *wire.Unchoke:
		return wire.Unchoke{}
	case *wire.Interested:
		return wire.Interested{}
	case *wire.NotInterested:
		return wire.NotInterested{}
	case *wire.HaveAll:
		return wire.HaveAll{}
	case *wire.HaveNone:
		return wire.HaveNone{}
	case *wire.KeepAlive:
		return wire.KeepAlive{}
	}
	return m
}

// errProtocol marks a peer that broke the protocol.
var errProtocol = errors.New("protocol violation")

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}
