// Command hostile is a picker plugin that misbehaves on purpose, for tests
// of the host's defences. TORRENT_TEST_HOSTILE picks the fault: garbage
// (out-of-range, duplicate, unavailable and far too many pieces), hang
// (never answers), crash (exits on every batch) or flood (a stream of
// answers nobody asked for).
package main

import (
	"context"
	"os"

	"github.com/torrent-dev/torrent/sdk"
)

func main() {
	if os.Getenv("TORRENT_TEST_HOSTILE") == "flood" {
		serveFlood()
		return
	}
	sdk.ServePicker(hostile{mode: os.Getenv("TORRENT_TEST_HOSTILE")}, sdk.WithName("hostile-"+os.Getenv("TORRENT_TEST_HOSTILE")))
}

type hostile struct{ mode string }

func (h hostile) Pick(ctx context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	switch h.mode {
	case "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	case "crash":
		os.Exit(3)
	}
	n := s.Torrent().NumPieces
	picks := sdk.Picks{}
	for _, w := range want {
		list := []int{-1, n, n + 1000, 0, 0}
		for i := range 100000 {
			list = append(list, i%max(n, 1))
		}
		picks[w.Peer] = list
	}
	picks[sdk.PeerID(1<<40)] = []int{1, 2, 3} // a peer nobody asked about
	return picks, nil
}
