package swarm

import (
	"errors"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
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
	switch m := in.m.(type) {
	case wire.Piece:
		return s.gotBlock(p, m.Index, m.Begin, in.block)
	case wire.Have:
		if int(m.Index) >= s.cfg.NumPieces {
			return protoErr("have %d of %d pieces", m.Index, s.cfg.NumPieces)
		}
		if !p.has.Has(int(m.Index)) {
			p.has.Set(int(m.Index))
			s.post(sdk.PeerHave{Peer: p.id, Piece: int(m.Index)})
			if !s.have.Has(int(m.Index)) {
				p.wanted++
				s.updateInterest(p)
			}
		}
	case wire.Bitfield:
		bf, err := bitfield.FromBytes(in.bytes, s.cfg.NumPieces)
		if err != nil {
			return protoErr("%v", err)
		}
		return s.setHas(p, bf)
	case wire.HaveAll:
		bf := bitfield.New(s.cfg.NumPieces)
		bf.SetAll()
		return s.setHas(p, bf)
	case wire.HaveNone:
		s.setHas(p, bitfield.New(s.cfg.NumPieces))
	case wire.Choke:
		p.choked = true
		if !p.fast { // BEP 6: a fast peer rejects each request itself
			s.pieces.releaseAll(p)
		}
	case wire.Unchoke:
		p.choked = false
		s.fillRequests(p)
	case wire.Interested:
		p.peerInterested = true
	case wire.NotInterested:
		p.peerInterested = false
	case wire.Request:
		return s.gotRequest(p, m)
	case wire.Cancel:
		p.out.cancel(upReq{m.Index, m.Begin, m.Length})
	case wire.Reject:
		key := blockKey(m.Index, m.Begin)
		if _, ok := p.inflight[key]; ok {
			s.pieces.release(p, key)
			if ps := s.pieces.active[int(m.Index)]; ps != nil && ps.solo == p.id {
				s.abandon(ps, p)
			}
			s.fillRequestsExcept(p)
		}
	case wire.Extended:
		if m.ExtID == 0 {
			if h, err := wire.ParseExtHandshake(in.bytes); err == nil && h.Reqq > 0 {
				p.reqq = h.Reqq
			}
		}
	}
	// KeepAlive, Port, Suggest, AllowedFast and unknown messages need nothing.
	return nil
}

// errBothComplete lets go of a seed once we are one too.
var errBothComplete = errors.New("both complete")

func (s *Swarm) setHas(p *peer, bf bitfield.Bitfield) error {
	if s.missing == 0 && bf.Full() {
		return errBothComplete
	}
	p.has = bf
	p.wanted = 0
	for i := range s.cfg.NumPieces {
		if bf.Has(i) && !s.have.Has(i) {
			p.wanted++
		}
	}
	s.post(sdk.PeerJoined{Peer: p.id, Have: bf.Clone()})
	s.updateInterest(p)
	return nil
}

func haveMsg(i int) wire.Have { return wire.Have{Index: uint32(i)} }

// updateInterest tells p whether we want anything it has.
func (s *Swarm) updateInterest(p *peer) {
	want := p.wanted > 0
	if want != p.interested {
		p.interested = want
		if want {
			p.out.sendMsg(wire.Interested{})
		} else {
			p.out.sendMsg(wire.NotInterested{})
		}
	}
	if want {
		s.fillRequests(p)
	}
}

// fillRequestsExcept gives a rejected block to the other peers first.
func (s *Swarm) fillRequestsExcept(p *peer) {
	for _, q := range s.peers {
		if q != p {
			s.fillRequests(q)
		}
	}
}

func (s *Swarm) gotRequest(p *peer, m wire.Request) error {
	i := int(m.Index)
	if i >= s.cfg.NumPieces || m.Length == 0 || m.Length > maxBlockLen ||
		int64(m.Begin)+int64(m.Length) > s.pieces.size(i) {
		return protoErr("bad request %d/%d+%d", m.Index, m.Begin, m.Length)
	}
	if !s.have.Has(i) {
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

// gotBlock files a block into its piece.
func (s *Swarm) gotBlock(p *peer, index, begin uint32, data []byte) error {
	defer putBlock(data)
	key := blockKey(index, begin)
	if _, asked := p.inflight[key]; !asked {
		// A request we cancelled, released or timed out may still be
		// answered, once; beyond that the peer sends what nobody asked for.
		if p.withdrawn == 0 {
			return protoErr("block %d/%d was never asked for", index, begin)
		}
		p.withdrawn--
		return nil
	}
	ps := s.pieces.active[int(index)]
	b := int(begin) / blockSize
	if ps == nil || int(begin)%blockSize != 0 || uint32(len(data)) != ps.blockLen(b) {
		return protoErr("block %d/%d of %d bytes was not what we asked for", index, begin, len(data))
	}
	delete(p.inflight, key)
	now := time.Now()
	p.lastBlock = now
	p.downloaded += int64(len(data))
	s.counters.down += int64(len(data))
	ps.reqs[b]--
	if ps.got[b] {
		s.counters.wasted += int64(len(data))
		s.fillRequests(p)
		return nil
	}
	if ps.nGot == 0 {
		s.post(sdk.PieceStarted{Piece: ps.index})
	}
	copy(ps.buf[begin:], data)
	ps.got[b] = true
	ps.nGot++
	ps.from[b] = p.addr.Addr()
	if ps.reqs[b] > 0 { // endgame duplicate still out: cancel it
		s.cancelOthers(p, key, ps.blockLen(b))
	}
	if ps.nGot == len(ps.got) {
		s.pieces.finish(ps)
		s.pieces.verifying[ps.index] = true
		s.verifier.add(ps)
	}
	s.fillRequests(p)
	return nil
}

func (s *Swarm) cancelOthers(p *peer, key uint64, length uint32) {
	ps := s.pieces.active[int(key>>32)]
	for _, q := range s.peers {
		if _, ok := q.inflight[key]; ok && q != p {
			delete(q.inflight, key)
			q.withdrawn++
			if ps != nil {
				ps.reqs[int(uint32(key))/blockSize]--
			}
			q.out.sendMsg(wire.Cancel{Index: uint32(key >> 32), Begin: uint32(key), Length: length})
		}
	}
}

func appendRequest(b []byte, index, begin, length uint32) []byte {
	return wire.AppendMessage(b, wire.Request{Index: index, Begin: begin, Length: length})
}

func appendCancel(b []byte, key uint64, t *pieceTable) []byte {
	index, begin := uint32(key>>32), uint32(key)
	length := uint32(min(blockSize, t.size(int(index))-int64(begin)))
	return wire.AppendMessage(b, wire.Cancel{Index: index, Begin: begin, Length: length})
}
