package swarm_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// A peer that has nothing we lack and wants nothing of ours is dropped
// once Timeouts.Unused has passed, and not dialled again soon: with one
// peer slot, the seeder learnt of meanwhile gets it and the download
// completes. Before, such a peer held its slot for ever.
func TestUnusedPeerDropped(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	idle := hostilepeer.Start(t, tr.hostile(), hostilepeer.Silent, hostilepeer.Options{Has: func(int) bool { return false }})
	good := seeder(t, tr, "127.0.0.2", 0)
	s, dir := swarmFor(t, tr, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.MaxPeers = 1
		c.Timeouts = swarm.Timeouts{Unused: 2 * time.Second}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		for idle.Conns() == 0 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		s.AddPeers([]netip.AddrPort{good.Addr()})
	}()
	if err := s.Run(ctx, []netip.AddrPort{idle.Addr()}); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("not complete in time: %d pieces missing (the unused peer kept the only slot)", s.Stats().Missing)
	}
	sameData(t, tr, dir)
	if n := idle.Conns(); n != 1 {
		t.Fatalf("the unused peer was connected %d times, want once", n)
	}
}

// At the peer limit, a new connection takes the slot of a peer that has
// been of no use for a tenth of Timeouts.Unused; before that it is
// refused as ever.
func TestUnusedPeerMakesRoom(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	listening(t, tr, ln, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.MaxPeers = 1
		c.Timeouts = swarm.Timeouts{Unused: 30 * time.Second}
	})
	bf := bitfield.New(numPieces)
	bf.SetAll()
	all := bf.Bytes()
	idle := connectRaw(t, tr, ln.Addr(), "-XX0000-idle00000000", false)
	early := connectRaw(t, tr, ln.Addr(), "-XX0000-early0000000", false)
	early.send(wire.Bitfield{Bits: all})
	if !closedByPeer(early.c, 10*time.Second) {
		t.Fatal("a peer over the limit was taken while the other had been unused only a moment")
	}
	time.Sleep(3500 * time.Millisecond)
	useful := connectRaw(t, tr, ln.Addr(), "-XX0000-useful000000", false)
	useful.send(wire.Bitfield{Bits: all})
	useful.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := useful.r.Next()
		if err != nil {
			t.Fatalf("the peer with pieces we lack got no Interested: %v", err)
		}
		if m.ID() == wire.IDInterested {
			break
		}
	}
	if !closedByPeer(idle.c, 10*time.Second) {
		t.Fatal("the unused peer kept its slot")
	}
}
