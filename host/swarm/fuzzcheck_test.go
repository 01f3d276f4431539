package swarm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
)

// check fails the fuzz run unless the swarm's state is consistent and what
// it queued for each peer since the last check is sound.
func (r *fuzzRig) check() {
	t, s, d := r.t, r.s, r.s.dl
	if len(s.peers) != len(d.peers) {
		t.Fatalf("%d peers in the run loop, %d in the downloader", len(s.peers), len(d.peers))
	}
	for id, p := range s.peers {
		if d.peers[id] != p.dl {
			t.Fatalf("peer %d: the downloader's handle is not the run loop's", id)
		}
	}
	if d.missing != s.geo.numPieces-d.have.Count() || d.missing < 0 {
		t.Fatalf("missing %d with %d of %d pieces had", d.missing, d.have.Count(), s.geo.numPieces)
	}
	for i := range s.geo.numPieces {
		if d.have.Has(i) != s.HasPiece(i) {
			t.Fatalf("piece %d: had %v, published %v", i, d.have.Has(i), s.HasPiece(i))
		}
		lo, hi := s.geo.offset(i), s.geo.offset(i)+s.geo.size(i)
		if d.have.Has(i) && !bytes.Equal(r.st.data[lo:hi], r.st.truth[lo:hi]) {
			t.Fatalf("piece %d is had but its data on disk is wrong", i)
		}
	}
	r.checkRequests()
	if d.down < 0 || d.wasted < 0 || d.wasted > d.down || s.counters.wasted < 0 || s.counters.verified < 0 {
		t.Fatalf("counters: down %d, wasted %d of it, wasted pieces %d, verified %d",
			d.down, d.wasted, s.counters.wasted, s.counters.verified)
	}
	for _, p := range r.peers {
		r.asked[p] = append(r.asked[p], r.checkOut(p)...)
	}
}

// checkRequests: each request in flight is for a block of a piece being
// downloaded, and each piece counts its blocks' requests right.
func (r *fuzzRig) checkRequests() {
	t, d := r.t, r.s.dl
	reqs := map[uint64]int{}
	for _, p := range d.peers {
		wanted := 0
		for i := range r.s.geo.numPieces {
			if p.has.Has(i) && !d.have.Has(i) {
				wanted++
			}
		}
		if p.wanted != wanted || p.withdrawn < 0 || p.downloaded < 0 {
			t.Fatalf("peer %d: wanted %d (want %d), withdrawn %d, downloaded %d", p.id, p.wanted, wanted, p.withdrawn, p.downloaded)
		}
		for key := range p.inflight {
			i, begin := int(key>>32), int64(uint32(key))
			if d.pieces.active[i] == nil || begin%blockSize != 0 || begin >= r.s.geo.size(i) {
				t.Fatalf("peer %d: request %d/%d in flight, not a block of a piece being fetched", p.id, i, begin)
			}
			reqs[key]++
		}
	}
	if len(d.pieces.order) != len(d.pieces.active) {
		t.Fatalf("%d pieces in order, %d active", len(d.pieces.order), len(d.pieces.active))
	}
	for _, ps := range d.pieces.order {
		i := ps.index
		if d.pieces.active[i] != ps || d.have.Has(i) || d.pieces.verifying[i] {
			t.Fatalf("piece %d in flight: active %v, had %v, verifying %v", i, d.pieces.active[i] == ps, d.have.Has(i), d.pieces.verifying[i])
		}
		got, unrequested := 0, 0
		for b := range ps.got {
			if n := reqs[blockKey(uint32(i), uint32(b*blockSize))]; int(ps.reqs[b]) != n {
				t.Fatalf("piece %d block %d: counts %d requests, %d in flight", i, b, ps.reqs[b], n)
			}
			if ps.got[b] {
				got++
			} else if ps.reqs[b] == 0 {
				unrequested++
			}
		}
		if got != ps.nGot || unrequested != ps.unrequested {
			t.Fatalf("piece %d: %d blocks got (counted %d), %d unrequested (counted %d)", i, got, ps.nGot, unrequested, ps.unrequested)
		}
	}
}

// takeAll is everything queued in o, over as many takes as it needs.
func takeAll(o *outbox) (ctrl []byte, ups []upReq) {
	for more := true; more; {
		var c []byte
		var u []upReq
		c, u, _, more = o.take(nil, nil)
		ctrl, ups = append(ctrl, c...), append(ups, u...)
	}
	return ctrl, ups
}

// checkOut takes what the swarm queued for p and fails unless each is a
// well-formed message about the torrent that p may be sent; it returns
// the requests.
func (r *fuzzRig) checkOut(p *peer) []wire.Request {
	t, g, have := r.t, r.s.geo, r.s.dl.have
	ctrl, ups := takeAll(p.out)
	for _, u := range ups {
		if int(u.index) >= g.numPieces || !have.Has(int(u.index)) || u.length == 0 || u.length > maxBlockLen ||
			int64(u.begin)+int64(u.length) > g.size(int(u.index)) {
			t.Fatalf("peer %d: upload of %d/%d+%d queued", p.id, u.index, u.begin, u.length)
		}
	}
	var asked []wire.Request
	rd := wire.NewReader(bytes.NewReader(ctrl), 1<<20)
	for {
		m, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return asked
		}
		if err != nil {
			t.Fatalf("peer %d: queued a malformed message: %v", p.id, err)
		}
		switch m := m.(type) {
		case *wire.Request:
			i := int(m.Index)
			if i >= g.numPieces || m.Begin%blockSize != 0 || int64(m.Begin) >= g.size(i) ||
				int64(m.Length) != min(blockSize, g.size(i)-int64(m.Begin)) || have.Has(i) || !p.dl.has.Has(i) {
				t.Fatalf("peer %d: request %d/%d+%d (had %v, peer has %v)", p.id, i, m.Begin, m.Length, have.Has(i), p.dl.has.Has(i))
			}
			asked = append(asked, *m)
		case *wire.Cancel:
			if int(m.Index) >= g.numPieces || int64(m.Begin)+int64(m.Length) > g.size(int(m.Index)) {
				t.Fatalf("peer %d: cancel %d/%d+%d", p.id, m.Index, m.Begin, m.Length)
			}
		case *wire.Have:
			if !have.Has(int(m.Index)) {
				t.Fatalf("peer %d: have %d, a piece not had", p.id, m.Index)
			}
		case *wire.Reject:
			if !p.fast {
				t.Fatalf("peer %d: a reject for a peer without BEP 6", p.id)
			}
		case *wire.HaveAll, *wire.HaveNone:
			if !p.fast {
				t.Fatalf("peer %d: %v for a peer without BEP 6", p.id, m.ID())
			}
		case *wire.Extended:
			if !p.ext {
				t.Fatalf("peer %d: an extended message for a peer without BEP 10", p.id)
			}
		case *wire.Choke, *wire.Piece:
			t.Fatalf("peer %d: %v queued by the run loop", p.id, m.ID())
		}
	}
}

// finish: the fuzzed peers leave and an honest seed joins. It is served
// an upload and completes the download, and every piece on disk is the
// torrent's.
func (r *fuzzRig) finish() {
	t, s := r.t, r.s
	for _, p := range r.peers {
		s.handle(inMsg{p: p, err: io.EOF})
	}
	r.verify()
	r.check()
	seed := r.join(3, netip.AddrFrom4([4]byte{10, 9, 9, 9}))
	// It says it has nothing first: were the fuzzed steps to complete the
	// download, a seed's have-all would end the connection (both
	// complete) before it is served.
	r.deliver(seed, wire.AppendMessage(nil, wire.HaveNone{}))
	for i := range s.geo.numPieces {
		if !s.dl.have.Has(i) {
			continue
		}
		r.deliver(seed, wire.AppendMessage(nil, wire.Request{Index: uint32(i), Length: blockSize}))
		if _, ups := takeAll(seed.out); !slices.Equal(ups, []upReq{{uint32(i), 0, blockSize}}) {
			t.Fatalf("a request of piece %d, had, queued uploads %v", i, ups)
		}
		break
	}
	if s.dl.missing > 0 {
		r.deliver(seed, wire.AppendMessage(nil, wire.HaveAll{}))
	}
	r.deliver(seed, wire.AppendMessage(nil, wire.Unchoke{}))
	r.check()
	for round := 0; s.dl.missing > 0; round++ {
		if round > 100 {
			t.Fatalf("an honest seed serves everything asked and %d pieces are still missing", s.dl.missing)
		}
		asked := r.asked[seed]
		r.asked[seed] = nil
		if len(asked) == 0 {
			// Nothing asked: a tick tops every pipeline up.
			r.now = r.now.Add(time.Second)
			s.tick(context.Background(), r.now)
			r.check()
			if asked = r.asked[seed]; len(asked) == 0 {
				t.Fatalf("an honest seed joined and the swarm asks it for nothing (%d pieces missing, round %d)", s.dl.missing, round)
			}
			r.asked[seed] = nil
		}
		for _, m := range asked {
			g := s.geo
			data := r.st.truth[g.offset(int(m.Index))+int64(m.Begin):][:m.Length]
			r.deliver(seed, wire.AppendMessage(nil, wire.Piece{Index: m.Index, Begin: m.Begin, Data: data}))
			r.check()
		}
		r.verify()
		r.check()
	}
	if !bytes.Equal(r.st.data, r.st.truth) {
		t.Fatal("complete, but the data on disk differs from the torrent's")
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("complete, but Done is not closed")
	}
}
