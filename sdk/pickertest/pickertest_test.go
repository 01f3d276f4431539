package pickertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/sdk"
)

// firstMissing is a correct, simple picker: lowest missing wanted pieces
// the peer has, urgent ones first.
type firstMissing struct{}

func (firstMissing) Pick(_ context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	out := sdk.Picks{}
	for _, w := range want {
		var l []int
		for _, u := range s.Urgent() {
			if len(l) < w.N && !s.Have(u) && s.PeerHas(w.Peer, u) && !contains(l, u) {
				l = append(l, u)
			}
		}
		for i := 0; i < s.Torrent().NumPieces && len(l) < w.N; i++ {
			if !s.Have(i) && s.Wanted(i) && s.PeerHas(w.Peer, i) && !contains(l, i) {
				l = append(l, i)
			}
		}
		out[w.Peer] = l
	}
	return out, nil
}

func TestCorrectPickerPasses(t *testing.T) {
	t.Parallel()
	Run(t, firstMissing{})
}

// broken pickers, each with one fault the kit must name.
type broken struct {
	name  string
	pick  func(s *sdk.Swarm, w sdk.Want, good []int) []int
	fault string
	delay time.Duration // per batch on the large scenario
}

func (b broken) Pick(ctx context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	if s.Torrent().NumPieces >= 10000 {
		time.Sleep(b.delay)
	}
	good, _ := firstMissing{}.Pick(ctx, s, want)
	out := sdk.Picks{}
	for _, w := range want {
		out[w.Peer] = b.pick(s, w, good[w.Peer])
	}
	return out, nil
}

func TestBrokenPickersFail(t *testing.T) {
	t.Parallel()
	pickers := []broken{
		{"out of range", func(s *sdk.Swarm, _ sdk.Want, g []int) []int { return append(g[:0:0], s.Torrent().NumPieces+3) }, "out of range", 0},
		{"lacks", func(s *sdk.Swarm, w sdk.Want, g []int) []int {
			for i := range s.Torrent().NumPieces {
				if !s.PeerHas(w.Peer, i) && !s.Have(i) {
					return []int{i}
				}
			}
			return g
		}, "which lacks it", 0},
		{"complete", func(s *sdk.Swarm, w sdk.Want, g []int) []int {
			for i := range s.Torrent().NumPieces {
				if s.Have(i) {
					return []int{i}
				}
			}
			return g
		}, "already complete", 0},
		{"ignores urgent", func(s *sdk.Swarm, w sdk.Want, g []int) []int {
			var l []int
			for _, i := range g {
				if !contains(s.Urgent(), i) {
					l = append(l, i)
				}
			}
			return l
		}, "urgent piece", 0},
		{"ignores the files chosen", func(s *sdk.Swarm, w sdk.Want, g []int) []int {
			for i := range s.Torrent().NumPieces {
				if !s.Wanted(i) && !s.Have(i) && s.PeerHas(w.Peer, i) && !contains(s.Urgent(), i) {
					return append([]int{i}, g...)[:min(len(g)+1, w.N)]
				}
			}
			return g
		}, "only files the user skipped", 0},
		{"duplicates", func(_ *sdk.Swarm, _ sdk.Want, g []int) []int {
			if len(g) > 0 {
				return append(g, g[0])
			}
			return g
		}, "twice", 0},
		{"slow", func(_ *sdk.Swarm, _ sdk.Want, g []int) []int { return g }, "too slow", 2 * MaxBatchCost * raceSlowdown},
	}
	for _, b := range pickers {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			faults, _ := Check(b)
			var all []string
			for _, f := range faults {
				all = append(all, f.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), b.fault) {
				t.Fatalf("faults %q do not name %q", all, b.fault)
			}
		})
	}
}

// pausing is a correct picker whose first batch on the large scenario
// stalls, as a GC pause or a busy machine would stall it.
type pausing struct {
	firstMissing
	paused *bool
}

func (p pausing) Pick(ctx context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	if s.Torrent().NumPieces >= 10000 && !*p.paused {
		*p.paused = true
		time.Sleep(2 * MaxBatchCost * raceSlowdown)
	}
	return p.firstMissing.Pick(ctx, s, want)
}

// One slow batch is the machine's doing, not the picker's: no fault.
func TestOnePauseIsNotTooSlow(t *testing.T) {
	t.Parallel()
	paused := false
	faults, cost := Check(pausing{paused: &paused})
	if !paused {
		t.Fatal("the large scenario never ran: the test proves nothing")
	}
	if len(faults) > 0 || cost > MaxBatchCost*raceSlowdown {
		t.Fatalf("a correct picker with one paused batch: faults %v, cost %s", faults, cost)
	}
}
