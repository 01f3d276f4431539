package hostapi

import (
	"testing"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
)

// A peer's flags and source as the UI and `torrent status` get them.
func TestPeerInfoFlagsAndSource(t *testing.T) {
	for name, tc := range map[string]struct {
		in            swarm.PeerStats
		flags, source string
	}{
		"plain tracker peer": {swarm.PeerStats{Source: addrbook.Tracker}, "", "tracker"},
		"everything": {swarm.PeerStats{Choked: true, Interested: true, Encrypted: true, Incoming: true, Snubbed: true,
			Source: addrbook.Incoming}, "ciEIS", "incoming"},
		"found twice": {swarm.PeerStats{Encrypted: true, Source: addrbook.Tracker | addrbook.PEX}, "E", "tracker+pex"},
	} {
		t.Run(name, func(t *testing.T) {
			got := peerInfo(tc.in)
			if got.Flags != tc.flags || got.Source != tc.source {
				t.Fatalf("flags %q source %q, want %q and %q", got.Flags, got.Source, tc.flags, tc.source)
			}
		})
	}
}
