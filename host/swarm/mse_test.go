package swarm_test

import (
	"testing"

	"github.com/torrent-dev/torrent/host/swarm"
)

// With EncryptOutgoing, a peer that speaks only plain BitTorrent (it drops
// the connection at our key exchange) is redialled plain and still used.
func TestEncryptedDialFallsBackToPlain(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	plain := seeder(t, tr, "", 0)
	log := newLog()
	leechWith(t, tr, log.logger(), func(c *swarm.Config) { c.EncryptOutgoing = true }, plain.Addr())
	if !log.contains("retrying the other way: peer=" + plain.Addr().String() + " encrypted=true") {
		t.Fatalf("no plain retry in the log:\n%s", log)
	}
	if n := plain.Conns(); n != 2 {
		t.Fatalf("the plain peer was connected %d times, want 2 (MSE, then plain)", n)
	}
}
