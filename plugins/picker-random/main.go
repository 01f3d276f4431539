// Command torrent-picker-random is the default piece picker: the original
// client's biased randomness. Urgent pieces (a torfs reader waits for them)
// come first in their order; the rest are drawn at random without
// replacement, weighted towards rare pieces and pieces already started.
package main

import (
	"container/heap"
	"context"
	"math"
	"math/rand/v2"

	"github.com/torrent-dev/torrent/sdk"
)

func main() {
	sdk.ServePicker(&randomPicker{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}, sdk.WithName("random"))
}

type randomPicker struct{ rng *rand.Rand }

var _ sdk.Picker = (*randomPicker)(nil)

// startedBoost is how much likelier a started piece is than an untouched
// one of the same rarity: finishing pieces frees memory and gives peers
// something to fetch from us.
const startedBoost = 8

// Pick draws each peer's list with weighted sampling without replacement
// (Efraimidis-Spirakis: key u^(1/w), keep the n largest), O(pieces·log n)
// per peer.
func (p *randomPicker) Pick(_ context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	picks := make(sdk.Picks, len(want))
	n := s.Torrent().NumPieces
	for _, w := range want {
		var list []int
		urgent := map[int]bool{}
		for _, i := range s.Urgent() {
			if len(list) < w.N && !s.Have(i) && s.PeerHas(w.Peer, i) && !urgent[i] {
				list = append(list, i)
				urgent[i] = true
			}
		}
		k := w.N - len(list)
		h := make(minKeys, 0, k)
		for i := range n {
			if k == 0 {
				break
			}
			if s.Have(i) || urgent[i] || !s.Wanted(i) || !s.PeerHas(w.Peer, i) {
				continue
			}
			weight := 1 / float64(max(1, s.Availability(i)))
			if s.Started(i) {
				weight *= startedBoost
			}
			// log(u)/w orders like u^(1/w) and costs a log, not a pow.
			key := math.Log(p.rng.Float64()) / weight
			if len(h) < k {
				heap.Push(&h, keyed{key, i})
			} else if key > h[0].key {
				h[0] = keyed{key, i}
				heap.Fix(&h, 0)
			}
		}
		// Largest keys first.
		drawn := make([]int, len(h))
		for j := len(h) - 1; j >= 0; j-- {
			drawn[j] = heap.Pop(&h).(keyed).piece
		}
		picks[w.Peer] = append(list, drawn...)
	}
	return picks, nil
}

type keyed struct {
	key   float64
	piece int
}

// minKeys is a min-heap of the n largest keys seen.
type minKeys []keyed

func (h minKeys) Len() int           { return len(h) }
func (h minKeys) Less(i, j int) bool { return h[i].key < h[j].key }
func (h minKeys) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minKeys) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *minKeys) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
