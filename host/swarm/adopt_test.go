package swarm_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// handshaken dials p and exchanges the BitTorrent handshakes, as a magnet
// link's metadata phase would have, for Config.Adopt.
func handshaken(t *testing.T, tr torrent, p netip.AddrPort, id string) swarm.Handshaken {
	t.Helper()
	c, err := net.Dial("tcp", p.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var our [20]byte
	copy(our[:], id)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := wire.WriteHandshake(c, wire.NewHandshake(tr.infoHash, our)); err != nil {
		t.Fatal(err)
	}
	hs, err := wire.ReadHandshake(c)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
	return swarm.Handshaken{Conn: c, Addr: p, Handshake: hs, Outgoing: true}
}

// Connections handshaken before the swarm ran are its peers from the
// start: the download comes over one whose address the swarm was never
// given, and one from a banned IP is closed.
func TestAdoptedConnections(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	good := seeder(t, tr, "", 0)
	bannedIP := "127.0.0.7"
	banned := seeder(t, tr, bannedIP, 0)
	adopt := []swarm.Handshaken{handshaken(t, tr, good.Addr(), "-TZ0100-adopted00001"),
		handshaken(t, tr, banned.Addr(), "-TZ0100-adopted00002")}
	leechWith(t, tr, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.Adopt = adopt
		c.Banned = []netip.Addr{netip.MustParseAddr(bannedIP)}
	})
	// The banned peer sees its connection end (it may take a moment).
	for end := time.Now().Add(30 * time.Second); banned.Dropped() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the banned peer's adopted connection: %d dropped by the swarm, want 1", banned.Dropped())
		}
	}
}

// An adopted connection has had messages both ways already, so BEP 3's
// bitfield, allowed only first, is too late for it: the swarm says what it
// has with haves.
func TestAdoptedPeerGreetedWithHaves(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	peer := dialTo(t, ln.Addr())
	ours, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var id [20]byte
	copy(id[:], "-XX0000-adoptedhaves")
	hs := wire.NewHandshake(tr.infoHash, id)
	hs.NoFast() // as the metadata phase hands them over
	have := bitfield.New(numPieces)
	have.Set(0)
	have.Set(3)
	listening(t, tr, listen(t), hclog.NewNullLogger(), func(c *swarm.Config) {
		c.Have = have
		c.Adopt = []swarm.Handshaken{{Conn: ours, Addr: netip.MustParseAddrPort(peer.LocalAddr().String()), Handshake: hs}}
	})
	r := wire.NewReader(peer, 1<<20)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	var haves []uint32
	for {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("after haves %v: %v", haves, err)
		}
		switch m := m.(type) {
		case *wire.Have:
			haves = append(haves, m.Index)
		case *wire.Bitfield, *wire.HaveNone, *wire.HaveAll:
			t.Fatalf("a late %T", m)
		case *wire.Unchoke:
			if len(haves) != 2 || haves[0] != 0 || haves[1] != 3 {
				t.Fatalf("haves %v before the unchoke, want [0 3]", haves)
			}
			return
		}
	}
}
