package swarm

import (
	"context"
	"net/netip"

	"github.com/torrent-dev/torrent/host/metadata"
	"github.com/torrent-dev/torrent/host/pex"
	"github.com/torrent-dev/torrent/host/wire"
)

// Our numbers for the extensions we speak (BEP 10's m): peers send
// their messages of each kind with these ids.
const (
	extIDMetadata = 1
	extIDPEX      = 2
)

const (
	// metadataSendLimit: a ut_metadata piece is queued for a peer's writer
	// only while less than this waits there (libtorrent's
	// send_buffer_limit, 10 pieces); other requests wait in a list of
	// piece numbers, served as the writer catches up.
	metadataSendLimit = 10 * wire.MetadataPieceSize
	// maxMetadataWaiting bounds that list; a request beyond it is
	// rejected. It is more pieces than any honest peer asks for at once
	// (4 MiB of info dictionary).
	maxMetadataWaiting = 256
	// maxUnsent is how much may wait for a peer's writer when a
	// ut_metadata request comes in: a peer that asks far faster than it
	// reads is flooding, and is dropped.
	maxUnsent = 4 * metadataSendLimit
	// metadataAsksPerPiece bounds the ut_metadata requests of one
	// connection, per piece of the dictionary (at least minMetadataAsks
	// in all): an honest peer asks for each piece once, or again after a
	// reject. Without it, a peer that never reads is answered with small
	// rejects that the kernel's socket buffers absorb by the megabyte.
	metadataAsksPerPiece = 4
	minMetadataAsks      = 64
	// dhtPortQueue is how many DHT nodes may wait for OnDHTPort.
	dhtPortQueue = 64
)

// peerExts is what a peer's extension handshake told us, and the state of
// the extensions we speak with it.
type peerExts struct {
	metadataID   uint8 // its id for ut_metadata; 0 = it does not speak it
	pexID        uint8 // its id for ut_pex; 0 = none
	metadataSize int   // the info dictionary's size, as it announced (0 = none)
	listenPort   uint16
	pex          *pex.State // what we told it, how often it wrote; nil until PEX with it starts
	dhtPort      uint16     // the port of its last Port message
	metaWaiting  []int      // ut_metadata pieces it asked for, not yet queued for its writer
	metaAsked    int        // ut_metadata requests it sent on this connection
}

func (s *Swarm) pexOn() bool { return !s.cfg.Private && !s.cfg.NoPEX }
func (s *Swarm) dhtOn() bool { return !s.cfg.Private && s.cfg.DHTPort > 0 && s.cfg.DHTPort <= 65535 }

// extHandshake is ours: ut_metadata always (with the size when we have
// the info dictionary), ut_pex unless PEX is off.
func (s *Swarm) extHandshake() wire.ExtHandshake {
	eh := wire.ExtHandshake{M: map[string]int{wire.ExtMetadata: extIDMetadata}, V: clientVersion,
		Reqq: maxPeerRequests, MetadataSize: len(s.cfg.Info)}
	if s.pexOn() {
		eh.M[wire.ExtPEX] = extIDPEX
	}
	if a, ok := s.listenAddr(); ok {
		eh.Port = int(a.Port())
	}
	return eh
}

// listenAddr is the address peers can dial us at, if we listen.
func (s *Swarm) listenAddr() (netip.AddrPort, bool) {
	if s.cfg.Listener == nil {
		return netip.AddrPort{}, false
	}
	a, err := netip.ParseAddrPort(s.cfg.Listener.Addr().String())
	return unmapAP(a), err == nil
}

func unmapAP(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// gotExtended dispatches a BEP 10 message by our id for it; ids we did
// not hand out (ut_pex of a private torrent among them) are ignored.
func (s *Swarm) gotExtended(p *peer, id uint8, payload []byte) error {
	switch {
	case id == 0:
		s.gotExtHandshake(p, payload)
	case id == extIDMetadata:
		return s.gotMetadataMsg(p, payload)
	case id == extIDPEX && s.pexOn():
		return s.gotPEX(p, payload)
	}
	return nil
}

// gotExtHandshake records a peer's extension handshake. A peer may send
// it again to change its ids (BEP 10); id 0 turns an extension off. One we
// cannot parse changes nothing: the extensions are optional.
func (s *Swarm) gotExtHandshake(p *peer, payload []byte) {
	h, err := wire.ParseExtHandshake(payload)
	if err != nil {
		s.log.Debug("ignoring extension handshake", "peer", p.addr, "error", err)
		return
	}
	if h.Reqq > 0 {
		p.dl.reqq = h.Reqq
	}
	if id, ok := h.M[wire.ExtMetadata]; ok {
		p.exts.metadataID = extID(id)
	}
	if id, ok := h.M[wire.ExtPEX]; ok {
		p.exts.pexID = extID(id)
	}
	if wire.CheckMetadataSize(h.MetadataSize) == nil {
		p.exts.metadataSize = h.MetadataSize
	}
	if h.Port > 0 {
		p.exts.listenPort = uint16(h.Port)
	}
}

// extID is a peer's id for an extension: 0 (off) for one that does not
// fit BEP 10's byte.
func extID(id int) uint8 {
	if id < 0 || id > 255 {
		return 0
	}
	return uint8(id)
}

// gotMetadataMsg answers a ut_metadata request from Config.Info. Data and
// rejects are answers to requests this swarm never sends: ignored.
// Memory stays bounded however fast requests come: a piece is queued for
// the writer only below metadataSendLimit, waits as a number up to
// maxMetadataWaiting, and is rejected beyond; a peer that makes rejects
// pile up past maxUnsent is dropped.
func (s *Swarm) gotMetadataMsg(p *peer, payload []byte) error {
	m, err := wire.ParseMetadataMsg(payload)
	if err != nil {
		return protoErr("%v", err)
	}
	if m.Type != wire.MetadataRequest || p.exts.metadataID == 0 {
		return nil // with no id of its own for ut_metadata, it cannot be answered
	}
	if unsent := p.out.unsent(); unsent > maxUnsent {
		return protoErr("ut_metadata requests while %d bytes wait to be sent to it", unsent)
	}
	pieces := wire.NumMetadataPieces(len(s.cfg.Info))
	if p.exts.metaAsked++; p.exts.metaAsked > max(metadataAsksPerPiece*pieces, minMetadataAsks) {
		return protoErr("ut_metadata requests: %d for a dictionary of %d pieces", p.exts.metaAsked, pieces)
	}
	reply := metadata.Serve(s.cfg.Info, m)
	if reply.Type == wire.MetadataData {
		if len(p.exts.metaWaiting) < maxMetadataWaiting {
			p.exts.metaWaiting = append(p.exts.metaWaiting, m.Piece)
			s.serveMetadata(p)
			return nil
		}
		reply = wire.MetadataMsg{Type: wire.MetadataReject, Piece: m.Piece}
	}
	p.out.sendMsg(wire.Extended{ExtID: p.exts.metadataID, Payload: wire.AppendMetadataMsg(nil, reply)})
	return nil
}

// serveMetadata queues p's waiting ut_metadata pieces for its writer while
// little waits there; what is left is tried again at the run loop's next
// flush (serveWaitingMetadata).
func (s *Swarm) serveMetadata(p *peer) {
	w := p.exts.metaWaiting
	if p.exts.metadataID == 0 {
		w = nil // it turned ut_metadata off since (BEP 10): nothing to answer with
	}
	for len(w) > 0 && p.out.unsent() < metadataSendLimit {
		reply := metadata.Serve(s.cfg.Info, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: w[0]})
		p.out.sendMsg(wire.Extended{ExtID: p.exts.metadataID, Payload: wire.AppendMetadataMsg(nil, reply)})
		w = w[1:]
	}
	if len(w) == 0 {
		p.exts.metaWaiting = nil
		delete(s.metaWaiting, p)
		return
	}
	p.exts.metaWaiting = w
	s.metaWaiting[p] = true
}

// serveWaitingMetadata gives each peer with ut_metadata pieces waiting
// what its writer has room for now.
func (s *Swarm) serveWaitingMetadata() {
	for p := range s.metaWaiting {
		if _, live := s.peers[p.id]; !live {
			delete(s.metaWaiting, p)
			continue
		}
		s.serveMetadata(p)
	}
}

// gotPort takes a peer's DHT port (BEP 5) to OnDHTPort, once per port.
func (s *Swarm) gotPort(p *peer, port uint16) {
	if s.cfg.OnDHTPort == nil || s.cfg.Private || port == 0 || port == p.exts.dhtPort {
		return
	}
	p.exts.dhtPort = port
	select {
	case s.dhtPorts <- netip.AddrPortFrom(p.addr.Addr(), port):
	default: // the session is behind; the DHT finds nodes other ways too
	}
}

// reportDHTPorts calls OnDHTPort off the run loop.
func (s *Swarm) reportDHTPorts(ctx context.Context) {
	for {
		select {
		case a := <-s.dhtPorts:
			s.cfg.OnDHTPort(a)
		case <-ctx.Done():
			return
		}
	}
}
