package session

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/internal/logbuf"
)

// A leecher that opens its connection with MSE gets the seeder's bytes;
// the seeder's accept path takes the key exchange and, offered both,
// selects plaintext (RC4 streams: host/mse and cmd/torrent's tests with a
// libtorrent that allows only RC4).
func TestEncryptedOutgoing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var seedLog logbuf.Buffer
	src, torrent, seedAddr := startSeeder(t, ctx, hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &seedLog}))

	dir := t.TempDir()
	var lwg sync.WaitGroup
	startSession(t, ctx, &lwg, torrent, dir, Options{Peers: []netip.AddrPort{seedAddr}, EncryptOutgoing: true,
		Logger: testLogger(t, "leecher")})
	lwg.Wait()
	sameTree(t, src, dir)
	if log := seedLog.String(); !strings.Contains(log, "outgoing=false mse=plaintext") {
		t.Fatalf("the seeder saw no MSE connection:\n%s", log)
	}
}
