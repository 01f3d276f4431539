package swarm

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// bareSwarm is a swarm that is never run: enough to call its handlers.
func bareSwarm(set func(*Config)) *Swarm {
	cfg := Config{NumPieces: 8, PieceLength: 16 << 10, TotalLength: 8 * 16 << 10, Have: bitfield.New(8)}
	set(&cfg)
	return New(cfg)
}

// barePeer is a connected peer whose writer never runs: what is queued
// for it stays queued, as for a peer that stopped reading.
func barePeer(s *Swarm, i int) *peer {
	p := &peer{peerConn: &peerConn{out: newOutbox()}, src: addrbook.Tracker, outgoing: true,
		addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881)}
	p.dl = newDLPeer(p.id, p.addr.Addr(), false, p.out, s.cfg.NumPieces, time.Now())
	return p
}

// However many ut_metadata requests a peer that reads nothing sends, what
// waits for it stays under the bound (ten answers of 16 KiB, at most 256
// piece numbers, then rejects), and it is dropped: here by the count of its
// requests (four per piece of the dictionary), before the bytes waiting
// for it pass maxUnsent.
func TestMetadataAnswersBounded(t *testing.T) {
	s := bareSwarm(func(c *Config) { c.Info = make([]byte, 1<<20) })
	p := barePeer(s, 1)
	p.exts.metadataID = 3
	req := wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: 7})
	most := 0
	for i := range 1_000_000 {
		err := s.gotMetadataMsg(p, req)
		most = max(most, p.out.unsent())
		if err != nil {
			if !errors.Is(err, errProtocol) {
				t.Fatalf("request %d: %v, want a protocol error", i, err)
			}
			break
		}
		if i == 999_999 {
			t.Fatal("a million requests from a peer that reads nothing, and it is still served")
		}
	}
	if limit := maxUnsent + wire.MetadataPieceSize + 64; most > limit {
		t.Fatalf("%d bytes queued for one peer, bound %d", most, limit)
	}
	if n := len(p.exts.metaWaiting); n > maxMetadataWaiting {
		t.Fatalf("%d pieces waiting, over the cap %d", n, maxMetadataWaiting)
	}
	if asked, limit := p.exts.metaAsked, metadataAsksPerPiece*wire.NumMetadataPieces(1<<20); asked != limit+1 {
		t.Fatalf("dropped after %d requests, want after %d", asked, limit+1)
	}
	datas := 0
	r := wire.NewReader(bytes.NewReader(p.out.ctrl), 1<<20)
	for {
		m, err := r.Next()
		if err != nil {
			break
		}
		if mm, err := wire.ParseMetadataMsg(m.(*wire.Extended).Payload); err == nil && mm.Type == wire.MetadataData {
			datas++
		}
	}
	if want := metadataSendLimit / wire.MetadataPieceSize; datas != want {
		t.Fatalf("%d pieces queued, want %d (then rejects)", datas, want)
	}
}

// PEX fills the address book up to maxKnown and no further.
func TestPEXCapsTheAddressBook(t *testing.T) {
	s := bareSwarm(func(*Config) {})
	for i := range 100 { // 100 peers of 50 new addresses each: 5000 offered
		p := barePeer(s, i)
		var m wire.PEXMsg
		for j := range 50 {
			m.Added = append(m.Added, wire.PEXPeer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{11, byte(i), byte(j), 1}), 6881)})
		}
		if err := s.gotPEX(p, wire.AppendPEXMsg(nil, m)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.book.Len(); n != maxKnown {
		t.Fatalf("%d addresses known, want the cap %d", n, maxKnown)
	}
	if src := s.book.Sources(netip.MustParseAddrPort("11.0.0.1:6881")); src != addrbook.PEX {
		t.Fatalf("source %v, want pex", src)
	}
}

// Pieces still waiting when the peer turns ut_metadata off (a new
// extension handshake with id 0) are dropped, never sent under id 0,
// which is the extension handshake's.
func TestWaitingMetadataDroppedWhenTurnedOff(t *testing.T) {
	s := bareSwarm(func(c *Config) { c.Info = make([]byte, 1<<20) })
	p := barePeer(s, 1)
	p.id = 1
	s.peers[p.id] = p
	p.exts.metadataID = 3
	for i := range 20 {
		req := wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: i})
		if err := s.gotMetadataMsg(p, req); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.exts.metaWaiting); n != 10 {
		t.Fatalf("%d pieces waiting, want 10 (10 queued)", n)
	}
	s.gotExtHandshake(p, wire.ExtHandshake{M: map[string]int{wire.ExtMetadata: 0}}.Marshal())
	p.out.take(nil, nil) // the writer takes what was queued
	s.serveWaitingMetadata()
	if n := p.out.unsent(); n != 0 || len(p.exts.metaWaiting) != 0 || len(s.metaWaiting) != 0 {
		t.Fatalf("%d bytes queued, %d pieces waiting, %d peers waiting after ut_metadata was turned off",
			n, len(p.exts.metaWaiting), len(s.metaWaiting))
	}
}
