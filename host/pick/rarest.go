// Package pick is the host's side of piece picking: the Manager feeds a
// picker plugin batches of swarm changes and hands its answers to the core
// loop, and a built-in rarest-first picker answers whenever the plugin is
// missing, crashed or stalled.
package pick

import (
	"context"
	"math/rand/v2"
	"sort"

	"github.com/torrent-dev/torrent/sdk"
)

// RarestFirst is the built-in picker: urgent pieces first, then pieces
// already started, then the rarest; ties broken at random so peers spread
// over different pieces.
type RarestFirst struct {
	rng *rand.Rand
}

var _ sdk.Picker = (*RarestFirst)(nil)

// NewRarestFirst returns the built-in picker.
func NewRarestFirst() *RarestFirst {
	return &RarestFirst{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

type candidate struct {
	piece int
	rank  int // lower first
}

// Pick implements sdk.Picker.
func (r *RarestFirst) Pick(_ context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	picks := make(sdk.Picks, len(want))
	n := s.Torrent().NumPieces
	for _, w := range want {
		var list []int
		seen := map[int]bool{}
		for _, i := range s.Urgent() {
			if len(list) < w.N && !s.Have(i) && s.PeerHas(w.Peer, i) && !seen[i] {
				list, seen[i] = append(list, i), true
			}
		}
		var cands []candidate
		off := r.rng.IntN(max(n, 1))
		for k := range n {
			i := (off + k) % n
			if s.Have(i) || seen[i] || !s.PeerHas(w.Peer, i) {
				continue
			}
			rank := s.Availability(i)
			if s.Started(i) {
				rank = -1
			}
			cands = append(cands, candidate{i, rank})
		}
		// Stable over a random rotation: equal ranks keep a random order.
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].rank < cands[b].rank })
		for _, c := range cands {
			if len(list) >= w.N {
				break
			}
			list = append(list, c.piece)
		}
		picks[w.Peer] = list
	}
	return picks, nil
}
