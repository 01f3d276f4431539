// Package pick is the host's side of piece picking: the Manager feeds a
// picker plugin batches of swarm changes and hands its answers to the core
// loop, and a built-in rarest-first picker answers whenever the plugin is
// missing, crashed or stalled.
package pick

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/torrent-dev/torrent/sdk"
)

// RarestFirst is the built-in picker: urgent pieces first, then pieces
// already started, then the rarest of the wanted; ties broken at random so peers spread
// over different pieces.
type RarestFirst struct {
	rng *rand.Rand
}

var _ sdk.Picker = (*RarestFirst)(nil)

// NewRarestFirst returns the built-in picker.
func NewRarestFirst() *RarestFirst {
	return &RarestFirst{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// Pick implements sdk.Picker. The ranking is computed once per batch and
// each peer walks it, taking the pieces it has.
func (r *RarestFirst) Pick(_ context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	n := s.Torrent().NumPieces
	order := make([]int, 0, s.Missing())
	for _, i := range r.rng.Perm(n) { // random order first: ties stay random after the stable sort
		if !s.Have(i) && s.Wanted(i) {
			order = append(order, i)
		}
	}
	rank := func(i int) int {
		if s.Started(i) {
			return -1
		}
		return s.Availability(i)
	}
	sort.SliceStable(order, func(a, b int) bool { return rank(order[a]) < rank(order[b]) })
	picks := make(sdk.Picks, len(want))
	for _, w := range want {
		var list []int
		for _, i := range s.Urgent() {
			if len(list) < w.N && !s.Have(i) && s.PeerHas(w.Peer, i) && !slices.Contains(list, i) {
				list = append(list, i)
			}
		}
		urgent := len(list)
		for _, i := range order {
			if len(list) >= w.N {
				break
			}
			if s.PeerHas(w.Peer, i) && !slices.Contains(list[:urgent], i) {
				list = append(list, i)
			}
		}
		picks[w.Peer] = list
	}
	return picks, nil
}
