package swarm_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/swarm"
)

// With EncryptOutgoing, a peer that speaks only plain BitTorrent (it drops
// the connection at our key exchange) is redialled plain and still used.
func TestEncryptedDialFallsBackToPlain(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	plain := startFake(t, tr, false)
	var log bytes.Buffer
	var mu sync.Mutex
	logger := hclog.New(&hclog.LoggerOptions{Output: lockedWriter{&mu, &log}, Level: hclog.Debug})
	leechWith(t, tr, logger, func(c *swarm.Config) { c.EncryptOutgoing = true }, plain.addr())
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(log.String(), "retrying plain") {
		t.Fatalf("no plain retry in the log:\n%s", log.String())
	}
	if n := plain.conns.Load(); n != 2 {
		t.Fatalf("the plain peer was connected %d times, want 2 (MSE, then plain)", n)
	}
}
