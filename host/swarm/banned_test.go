package swarm

import (
	"net/netip"
	"testing"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// IPs banned before the swarm starts (by a magnet link's metadata phase)
// are refused from the start.
func TestConfigBannedRefusedFromStart(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr("127.0.0.9")
	s := New(Config{NumPieces: 1, PieceLength: 16, TotalLength: 16, Have: bitfield.New(1), Banned: []netip.Addr{ip}})
	if !s.book.Banned(ip) || s.book.Banned(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("Config.Banned is not the book's ban list")
	}
}
