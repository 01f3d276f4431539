package swarm

import (
	"time"

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

const clientVersion = "torrent 0.1"

// handle applies one message from a peer.
func (s *Swarm) handle(in inMsg) {
	p := in.p
	if _, live := s.peers[p.id]; !live {
		in.release()
		return
	}
	if in.err != nil {
		s.dropPeer(p, in.err)
		return
	}
	if err := s.apply(p, in); err != nil {
		s.log.Debug("dropping peer", "peer", p.addr, "error", err)
		s.dropPeer(p, err)
	}
}

func (s *Swarm) apply(p *peer, in inMsg) error {
	switch in.id {
	case wire.IDPiece:
		defer putBlock(in.block)
		return s.dl.gotBlock(p.dl, in.index, in.begin, in.block, time.Now())
	case wire.IDHave:
		return s.dl.gotHave(p.dl, int(in.index))
	case wire.IDBitfield:
		bf, err := bitfield.FromBytes(in.bytes, s.cfg.NumPieces)
		if err != nil {
			return protoErr("%v", err)
		}
		return s.dl.setHas(p.dl, bf)
	case wire.IDHaveAll:
		bf := bitfield.New(s.cfg.NumPieces)
		bf.SetAll()
		return s.dl.setHas(p.dl, bf)
	case wire.IDHaveNone:
		s.dl.setHas(p.dl, bitfield.New(s.cfg.NumPieces))
	case wire.IDChoke:
		s.dl.gotChoke(p.dl)
	case wire.IDUnchoke:
		s.dl.gotUnchoke(p.dl)
	case wire.IDInterested:
		p.peerInterested = true
	case wire.IDNotInterested:
		p.peerInterested = false
	case wire.IDRequest:
		return s.gotRequest(p, wire.Request{Index: in.index, Begin: in.begin, Length: in.length})
	case wire.IDCancel:
		p.out.cancel(upReq{in.index, in.begin, in.length})
	case wire.IDReject:
		s.dl.gotReject(p.dl, in.index, in.begin)
	case wire.IDExtended:
		return s.gotExtended(p, in.extID, in.bytes)
	case wire.IDPort:
		s.gotPort(p, uint16(in.index))
	}
	// KeepAlive, Suggest, AllowedFast and unknown messages need nothing.
	return nil
}

func haveMsg(i int) wire.Have { return wire.Have{Index: uint32(i)} }

func (s *Swarm) gotRequest(p *peer, m wire.Request) error {
	i := int(m.Index)
	if i >= s.cfg.NumPieces || m.Length == 0 || m.Length > maxBlockLen ||
		int64(m.Begin)+int64(m.Length) > s.geo.size(i) {
		return protoErr("bad request %d/%d+%d", m.Index, m.Begin, m.Length)
	}
	if !s.dl.have.Has(i) {
		// An honest peer asks only for pieces we announced: a stream of
		// requests for others is a flood, answered (with rejects) until it
		// is plainly one.
		if p.unservable++; p.unservable > maxPeerRequests {
			return protoErr("%d requests for pieces we do not have", p.unservable)
		}
		if p.fast {
			p.out.sendMsg(wire.Reject(m))
		}
		return nil
	}
	if n := p.out.queued(); n >= maxPeerRequests {
		return protoErr("more than %d requests waiting", n)
	}
	p.out.upload(upReq{m.Index, m.Begin, m.Length})
	return nil
}
