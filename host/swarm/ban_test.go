package swarm_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
)

// Smart ban: a peer that sends wrong data for some blocks, always beside
// an honest peer that sends the rest of the same pieces, is banned by IP
// (never redialled, its incoming connection closed before the handshake),
// and the honest co-contributor is not banned.
func TestSmartBanBlamesOnlyTheGuilty(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	// The liar serves only the first block of each piece, wrong, and
	// refuses the others: every piece it touches is shared.
	evil := hostilepeer.Start(t, tr.hostile(), hostilepeer.WrongData, hostilepeer.Options{IP: "127.0.0.2",
		Reject: func(_, begin uint32) bool { return begin != 0 }})
	honest := seeder(t, tr, "127.0.0.3", 5*time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := newLog()
	s, dir := swarmFor(t, tr, log.logger(), func(c *swarm.Config) { c.Listener = ln; c.Seed = true })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, []netip.AddrPort{evil.Addr()}) }()
	// The liar first: alone it completes no piece (it refuses all but
	// the first block), and the honest peer it is joined by finishes the
	// pieces it started.
	for !log.contains("peer connected: peer=" + evil.Addr().String()) {
		select {
		case err := <-ran:
			t.Fatalf("swarm stopped: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.AddPeers([]netip.AddrPort{honest.Addr()})
	select {
	case <-s.Done():
	case err := <-ran:
		t.Fatalf("swarm stopped before completing: %v\n%s", err, log)
	}
	if !log.contains("banning peer: ip=127.0.0.2 reason=\"sent block 0 of piece") {
		t.Errorf("no smart ban of 127.0.0.2 in the log:\n%s", log)
	}
	if log.contains("banning peer: ip=127.0.0.3") {
		t.Errorf("the honest peer was banned:\n%s", log)
	}
	if n := evil.Conns(); n != 1 {
		t.Errorf("the banned peer was connected %d times, want 1", n)
	}
	// Both come back as incoming peers: the banned one is closed before
	// its handshake is answered, the honest one is answered.
	us := netip.MustParseAddrPort(ln.Addr().String())
	if answered, err := evil.Connect(us); err != nil || answered {
		t.Errorf("the banned peer's incoming connection: answered=%v, err=%v; want it closed unanswered", answered, err)
	}
	if answered, err := honest.Connect(us); err != nil || !answered {
		t.Errorf("the honest peer's incoming connection: answered=%v, err=%v; want an answer", answered, err)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	sameData(t, tr, dir)
}
