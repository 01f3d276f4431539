package swarm

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// FuzzPeerMessages drives the run loop's handling of peer messages as Run
// does, without sockets: the input is a program of steps, each a message
// from one of a few peers (any frame the wire reader yields, or a block,
// reject or request aimed at what is in flight), a tick some seconds on,
// the verification of complete pieces, a peer joining or leaving, an
// answer of the picker, or a piece found changed on disk. After each step the swarm's state must hold its
// invariants and everything it queued for a peer must be a well-formed
// message about the torrent. At the end an honest peer joins and the
// download must complete with the torrent's data: no input breaks the
// swarm for the peers that come after it, nor loses verified data.
func FuzzPeerMessages(f *testing.F) {
	f.Add([]byte{7, 0, 4, 6, 1, 0, 1, 1, 1, 2, 6, 5, 30, 1, 0})
	f.Add([]byte{7, 1, 4, 0x17, 3, 0x14, 0x11, 0, 0x12, 1, 0x13, 2, 6, 5, 25, 0x10, byte(wire.IDHaveNone), 0})
	f.Add([]byte{7, 3, 0, byte(wire.IDHaveAll), 0, 0, byte(wire.IDUnchoke), 0, 10, 0, 1, 0, 1, 0, 2, 1, 3, 6, 11, 0, 12})
	f.Add([]byte{7, 2, 0, byte(wire.IDBitfield), 1, 0xff, 0, byte(wire.IDUnchoke), 0, 8, 3, 9, 0, 2, 1, 1, 6, 9, 2, 3, 4})
	f.Add([]byte{7, 0, 0, byte(wire.IDHave), 4, 0, 0, 0, 9, 0, byte(wire.IDRequest), 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64, 0})
	f.Fuzz(func(t *testing.T, prog []byte) {
		r := newFuzzRig(t)
		for in := (&progReader{b: prog}); in.more(); {
			r.step(in)
			r.check()
		}
		r.finish()
	})
}

// The fuzzed torrent: 6 pieces of two blocks, the last one short; pieces
// 1 and 4 are had at the start, so peers can also ask for uploads.
const (
	fzPieces   = 6
	fzPieceLen = 2 * blockSize
	fzLength   = 5*fzPieceLen + blockSize + 3000
	fzMaxPeers = 4
)

var fzStart = []int{1, 4}

// memStorage is the torrent's data in memory, checked against its hashes.
type memStorage struct {
	data, truth []byte
	hashes      [][20]byte
}

func newMemStorage() *memStorage {
	m := &memStorage{data: make([]byte, fzLength), truth: make([]byte, fzLength)}
	rand.NewChaCha8([32]byte{16}).Read(m.truth)
	g := fzGeometry()
	for i := range fzPieces {
		m.hashes = append(m.hashes, sha1.Sum(m.truth[g.offset(i):g.offset(i)+g.size(i)]))
	}
	for _, i := range fzStart {
		copy(m.data[g.offset(i):], m.truth[g.offset(i):g.offset(i)+g.size(i)])
	}
	return m
}

func fzGeometry() geometry {
	return geometry{numPieces: fzPieces, pieceLength: fzPieceLen, totalLength: fzLength}
}

func (m *memStorage) ReadAt(p []byte, off int64) (int, error)  { return copy(p, m.data[off:]), nil }
func (m *memStorage) WriteAt(p []byte, off int64) (int, error) { return copy(m.data[off:], p), nil }
func (m *memStorage) CheckPiece(i int, data []byte) bool       { return sha1.Sum(data) == m.hashes[i] }

// nullPicker never answers: the swarm then picks pieces itself.
type nullPicker struct{}

func (nullPicker) Post([]sdk.Event, []sdk.Want) {}
func (nullPicker) Picks() <-chan sdk.Picks      { return nil }

// nullConn is a closed socket: the run loop only ever closes a peer's.
type nullConn struct{ net.Conn }

func (nullConn) Close() error { return nil }

// progReader hands out a fuzz program's bytes; past the end, zeros.
type progReader struct {
	b []byte
	i int
}

func (p *progReader) more() bool { return p.i < len(p.b) }

func (p *progReader) next() byte {
	if p.i >= len(p.b) {
		return 0
	}
	p.i++
	return p.b[p.i-1]
}

func (p *progReader) bytes(n int) []byte {
	n = min(n, len(p.b)-p.i)
	p.i += n
	return p.b[p.i-n : p.i]
}

type fuzzRig struct {
	t     *testing.T
	s     *Swarm
	st    *memStorage
	peers []*peer                  // joined, in order; some may be gone
	asked map[*peer][]wire.Request // requests queued for each peer, from check
	now   time.Time
}

func newFuzzRig(t *testing.T) *fuzzRig {
	st := newMemStorage()
	have := bitfield.New(fzPieces)
	for _, i := range fzStart {
		have.Set(i)
	}
	s := New(Config{InfoHash: [20]byte{1}, PeerID: [20]byte{2}, NumPieces: fzPieces, PieceLength: fzPieceLen,
		TotalLength: fzLength, Have: have, Storage: st, Picker: nullPicker{}})
	return &fuzzRig{t: t, s: s, st: st, asked: map[*peer][]wire.Request{}, now: time.Now()}
}

// join adds a peer as addPeer does, minus its reader and writer: what the
// swarm queues for it stays in its outbox for check to read.
func (r *fuzzRig) join(flags byte, ip netip.Addr) *peer {
	var hs wire.Handshake
	if flags&1 != 0 {
		hs.Reserved[7] |= 0x04 // BEP 6
	}
	if flags&2 != 0 {
		hs.Reserved[5] |= 0x10 // BEP 10
	}
	id := sdk.PeerID(r.s.nextID.Add(1))
	p := &peer{peerConn: &peerConn{conn: nullConn{}, out: newOutbox()}, id: id,
		addr: netip.AddrPortFrom(ip, 6881), fast: hs.Fast(), ext: hs.Extended()}
	copy(p.peerID[:], []byte{byte(id), 'f', 'z'})
	p.dl = newDLPeer(p.id, ip, p.fast, p.out, fzPieces, time.Now())
	r.s.book.Connected(p.addr, false)
	r.s.peers[p.id] = p
	r.s.byPeerID[p.peerID] = p
	r.s.dl.addPeer(p.dl)
	r.s.greet(p, false)
	r.peers = append(r.peers, p)
	return p
}

// deliver hands the swarm one message from p as its reader would.
func (r *fuzzRig) deliver(p *peer, frame []byte) {
	m, err := wire.NewReader(bytes.NewReader(frame), max(fzPieces/8+64, maxBlockLen+64)).Next()
	if errors.Is(err, io.EOF) {
		return
	}
	in := inMsg{p: p, err: err}
	if err == nil {
		in = copyMsg(p, m)
	}
	r.s.handle(in)
}

// inflight is p's j-th request in flight, in a fixed order.
func inflight(p *peer, j byte) (uint64, bool) {
	if p == nil {
		return 0, false
	}
	keys := make([]uint64, 0, len(p.dl.inflight))
	for k := range p.dl.inflight {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return 0, false
	}
	slices.Sort(keys)
	return keys[int(j)%len(keys)], true
}

func (r *fuzzRig) step(in *progReader) {
	op := in.next()
	var p *peer
	if len(r.peers) > 0 {
		p = r.peers[int(op>>4)%len(r.peers)]
	}
	g := r.s.geo
	switch op & 0x0f {
	case 0: // any frame: ID, payload length, payload
		if p != nil {
			id, n := in.next(), in.next()
			frame := binary.BigEndian.AppendUint32(nil, uint32(n)+1)
			r.deliver(p, append(append(frame, id), in.bytes(int(n))...))
		}
	case 1, 2: // the block of a request in flight, right or spoilt
		if key, ok := inflight(p, in.next()); ok {
			index, begin := uint32(key>>32), uint32(key)
			n := min(blockSize, g.size(int(index))-int64(begin))
			data := slices.Clone(r.st.truth[g.offset(int(index))+int64(begin):][:n])
			if op&0x0f == 2 {
				data[0] ^= 0xff
			}
			r.deliver(p, wire.AppendMessage(nil, wire.Piece{Index: index, Begin: begin, Data: data}))
		}
	case 3: // a reject of a request in flight
		if key, ok := inflight(p, in.next()); ok {
			index, begin := uint32(key>>32), uint32(key)
			n := uint32(min(blockSize, g.size(int(index))-int64(begin)))
			r.deliver(p, wire.AppendMessage(nil, wire.Reject{Index: index, Begin: begin, Length: n}))
		}
	case 4: // has everything, unchokes
		if p != nil {
			all := wire.Message(wire.HaveAll{})
			if !p.fast {
				bf := bitfield.New(fzPieces)
				bf.SetAll()
				all = wire.Bitfield{Bits: bf.Bytes()}
			}
			r.deliver(p, wire.AppendMessage(nil, all))
			r.deliver(p, wire.AppendMessage(nil, wire.Unchoke{}))
		}
	case 5: // a tick, some seconds on: request timeouts
		r.now = r.now.Add(time.Duration(in.next()) * time.Second)
		r.s.tick(context.Background(), r.now)
	case 6:
		r.verify()
	case 7: // a peer joins: flags say BEP 6 and BEP 10
		flags := in.next()
		if len(r.peers) < fzMaxPeers {
			r.join(flags, netip.AddrFrom4([4]byte{10, 0, 0, byte(len(r.peers) + 1)}))
		}
	case 8: // the picker's answer for p, maybe nonsense
		if p != nil {
			list := make([]int, in.next()%6)
			for i := range list {
				list[i] = int(in.next()%(fzPieces+3)) - 2
			}
			r.s.dl.takePicks(sdk.Picks{p.id: list}, time.Now())
		}
	case 9: // urgent pieces, maybe nonsense
		list := make([]int, in.next()%4)
		for i := range list {
			list[i] = int(in.next()%(fzPieces+3)) - 2
		}
		waited := int(in.next() % 5)
		r.s.dl.setUrgent(list, waited-int(in.next()%3), waited) // blocked may be negative: nonsense too
	case 10: // a request for a block of a piece, maybe one we lack
		if p != nil {
			i := uint32(in.next() % fzPieces)
			b := uint32(in.next() % 2)
			n := uint32(min(blockSize, g.size(int(i))-int64(b*blockSize)))
			r.deliver(p, wire.AppendMessage(nil, wire.Request{Index: i, Begin: b * blockSize, Length: n}))
		}
	case 11: // the connection ends
		if p != nil {
			r.s.handle(inMsg{p: p, err: io.EOF})
		}
	case 12: // the picker queue is flushed, as every 25 ms
		r.s.flushPicker()
	case 13: // a piece had is found changed on disk (diskcheck.go)
		i := int(in.next() % fzPieces)
		if r.s.dl.have.Has(i) {
			r.st.data[g.offset(i)] ^= 0xff
			r.s.lostPieces([]int{i})
		}
	}
}

// verify runs the verifier's queue on this goroutine, as its workers and
// the run loop would.
func (r *fuzzRig) verify() {
	v := r.s.verifier
	for {
		v.mu.Lock()
		work := v.work
		v.work = nil
		v.mu.Unlock()
		if len(work) == 0 {
			return
		}
		for _, ps := range work {
			ok := ps.hashed || r.st.CheckPiece(ps.index, ps.buf)
			if ok {
				r.st.WriteAt(ps.buf, r.s.geo.offset(ps.index))
			}
			if err := r.s.pieceVerified(verifyResult{ps: ps, ok: ok}); err != nil {
				r.t.Fatal(err)
			}
		}
	}
}
