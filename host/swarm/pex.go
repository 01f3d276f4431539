package swarm

import (
	"net/netip"
	"time"

	"github.com/torrent-dev/torrent/host/pex"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
)

// maxKnown caps the address book for what PEX brings (libtorrent's
// max_peerlist_size): peers could otherwise feed it without end.
const maxKnown = 3000

// gotPEX takes a peer's ut_pex message (BEP 11): its added peers go to
// the address book, to be dialled as the policy allows. A message that
// does not parse, or one too many within a minute, ends that peer's
// connection and nothing else.
func (s *Swarm) gotPEX(p *peer, payload []byte) error {
	m, err := wire.ParsePEXMsg(payload)
	if err != nil {
		return protoErr("%v", err)
	}
	if p.exts.pex == nil {
		p.exts.pex = &pex.State{}
	}
	added, err := p.exts.pex.Received(time.Now(), m)
	if err != nil {
		return protoErr("%v", err)
	}
	self, _ := s.listenAddr()
	room := maxKnown - s.book.Len()
	addrs := make([]netip.AddrPort, 0, len(added))
	for _, a := range added {
		if ap := unmapAP(a.Addr); ap != self && len(addrs) < room {
			addrs = append(addrs, ap)
		}
	}
	n := s.book.Add(addrbook.PEX, addrs...)
	s.log.Debug("pex received", "peer", p.addr, "added", len(m.Added), "dropped", len(m.Dropped), "new", n)
	return nil
}

// sendPEX sends each peer that speaks ut_pex the changes in our peer list
// since its last message, at most once a minute and capped as libtorrent
// does (host/pex).
func (s *Swarm) sendPEX(now time.Time) {
	if !s.pexOn() {
		return
	}
	var current map[netip.AddrPort]wire.PEXFlags
	for _, p := range s.peers {
		if p.exts.pexID == 0 {
			continue
		}
		if current == nil {
			current = s.pexPeers()
		}
		if p.exts.pex == nil {
			p.exts.pex = &pex.State{}
		}
		self, _ := p.listenAddr()
		m, ok := p.exts.pex.Message(now, self, current)
		if !ok {
			continue
		}
		p.out.sendMsg(wire.Extended{ExtID: p.exts.pexID, Payload: wire.AppendPEXMsg(nil, m)})
	}
}

// pexPeers is our connected peers as PEX lists them: by the address they
// listen on (a peer that came to us and never said its port is left
// out), with flags.
func (s *Swarm) pexPeers() map[netip.AddrPort]wire.PEXFlags {
	out := make(map[netip.AddrPort]wire.PEXFlags, len(s.peers))
	for _, p := range s.peers {
		a, ok := p.listenAddr()
		if !ok {
			continue
		}
		var f wire.PEXFlags
		if p.enc != 0 {
			f |= wire.PEXEncryption
		}
		if p.dl.has.Full() {
			f |= wire.PEXSeed
		}
		if p.outgoing {
			f |= wire.PEXReachable // we dialled it
		}
		out[a] = f
	}
	return out
}

// listenAddr is where p takes connections: the address we dialled, or for
// a peer that came to us, its IP and the port its extension handshake
// named.
func (p *peer) listenAddr() (netip.AddrPort, bool) {
	if p.outgoing {
		return p.addr, true
	}
	if p.exts.listenPort == 0 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(p.addr.Addr(), p.exts.listenPort), true
}
