package swarm_test

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
)

// TestShutdownWithFailingDialsNilConnPanic pins issue 9's crash after
// "download complete": a dial that failed while the swarm stopped reached
// the shutdown drain as a connection without a conn, and closing it
// panicked. Each round stops a swarm while its dials are failing (peers
// that hang up during the handshake) and incoming peers connect, handshake
// and leave.
func TestShutdownWithFailingDialsNilConnPanic(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	var hangUps []*hostilepeer.Peer
	var addrs []netip.AddrPort
	for i := range 32 {
		p := hostilepeer.Start(t, tr.hostile(), hostilepeer.HangUp, hostilepeer.Options{Delay: time.Duration(i%8) * 5 * time.Millisecond})
		hangUps = append(hangUps, p)
		addrs = append(addrs, p.Addr())
	}
	for round := range 30 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := swarmFor(t, tr, hclog.NewNullLogger(), func(c *swarm.Config) { c.Listener = ln; c.Seed = true })
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- s.Run(ctx, addrs) }()
		stop := make(chan struct{})
		var churn sync.WaitGroup
		for _, p := range hangUps[:4] {
			churn.Add(1)
			go func() {
				defer churn.Done()
				to := netip.MustParseAddrPort(ln.Addr().String())
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := p.Connect(to); err != nil {
						time.Sleep(time.Millisecond) // the listener is closed: the swarm is stopping
					}
				}
			}()
		}
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("round %d: the swarm did not stop", round)
		}
		close(stop)
		churn.Wait()
	}
}
