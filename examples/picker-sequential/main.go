// Command picker-sequential is a streaming piece picker: urgent pieces
// first, then the lowest-numbered pieces missing, so a file fills from its
// start. Build it and run `torrent -picker=/path/to/picker-sequential`.
package main

import (
	"context"

	"github.com/torrent-dev/torrent/sdk"
)

func main() { sdk.ServePicker(sequential{}, sdk.WithName("sequential")) }

type sequential struct{}

// Pick answers, for each peer that asks, up to w.N pieces it has that we
// lack, in order: urgent pieces first, then the wanted ones.
func (sequential) Pick(_ context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	picks := make(sdk.Picks, len(want))
	for _, w := range want {
		var list []int
		taken := map[int]bool{}
		add := func(i int) {
			if len(list) < w.N && !taken[i] && !s.Have(i) && s.PeerHas(w.Peer, i) {
				taken[i] = true
				list = append(list, i)
			}
		}
		for _, i := range s.Urgent() {
			add(i)
		}
		for i := 0; i < s.Torrent().NumPieces && len(list) < w.N; i++ {
			if s.Wanted(i) {
				add(i)
			}
		}
		picks[w.Peer] = list
	}
	return picks, nil
}
