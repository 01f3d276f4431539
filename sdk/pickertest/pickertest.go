// Package pickertest is a conformance kit for picker authors: it drives a
// picker through scripted swarms (peers joining and leaving, haves,
// completed pieces, urgent pieces, only some files chosen) and reports
// what the host would reject.
//
// In a picker's own tests:
//
//	func TestConformance(t *testing.T) { pickertest.Run(t, myPicker{}) }
package pickertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// MaxBatchCost is the slowest a Pick may be on the largest scenario
// (10,000 pieces, 50 peers asking): the host asks every few milliseconds.
// It bounds the fastest of that scenario's batches: a busy machine, the
// scheduler or a GC pause only add time to some batches, so a picker fails
// for its own cost, never for the machine's load.
const MaxBatchCost = 50 * time.Millisecond

// Fault is one thing the picker did wrong.
type Fault struct {
	Scenario string
	Problem  string
}

func (f Fault) String() string { return f.Scenario + ": " + f.Problem }

// Run fails t with every fault Check finds, and logs the per-batch cost.
func Run(t testing.TB, p sdk.Picker) {
	t.Helper()
	faults, cost := Check(p)
	t.Logf("picker cost: %s per batch on the largest scenario (its fastest batch)", cost)
	for _, f := range faults {
		t.Error(f)
	}
}

// Check runs every scenario and returns the faults and the cost of the
// fastest batch of the largest scenario.
func Check(p sdk.Picker) ([]Fault, time.Duration) {
	var faults []Fault
	var cost time.Duration
	for _, sc := range scenarios() {
		f, c := sc.run(p)
		faults = append(faults, f...)
		if sc.pieces >= 10000 {
			cost = c
		}
	}
	return faults, cost
}

type scenario struct {
	name   string
	pieces int
	peers  int
	steps  int
	urgent bool
	seed   uint64
	// chosen: the user chose files that make up runs of this fraction of
	// the pieces (0: every piece is wanted).
	chosen float64
}

func scenarios() []scenario {
	return []scenario{
		{name: "small swarm", pieces: 40, peers: 3, steps: 30, seed: 1},
		{name: "peers come and go", pieces: 300, peers: 12, steps: 60, seed: 2},
		{name: "urgent pieces", pieces: 500, peers: 8, steps: 40, urgent: true, seed: 3},
		{name: "nearly done", pieces: 64, peers: 4, steps: 80, seed: 4},
		{name: "some files chosen", pieces: 400, peers: 8, steps: 40, urgent: true, seed: 6, chosen: 0.3},
		{name: "large torrent", pieces: 10000, peers: 50, steps: 10, urgent: true, seed: 5},
	}
}

// run plays one scenario: each step changes the swarm, asks for picks for
// every peer and checks them against the state the picker was given.
func (sc scenario) run(p sdk.Picker) (faults []Fault, fastest time.Duration) {
	fail := func(format string, args ...any) {
		if len(faults) < 20 { // enough to see the pattern
			faults = append(faults, Fault{sc.name, fmt.Sprintf(format, args...)})
		}
	}
	rng := rand.New(rand.NewPCG(sc.seed, 42))
	have := bitfield.New(sc.pieces)
	var wanted bitfield.Bitfield
	if sc.chosen > 0 {
		wanted = chosenRuns(rng, sc.pieces, sc.chosen)
	}
	s, err := sdk.NewSwarm(sdk.Snapshot{Torrent: sdk.Torrent{NumPieces: sc.pieces, PieceLength: 1 << 18, TotalLength: int64(sc.pieces) << 18}, Have: have, Wanted: wanted})
	if err != nil {
		fail("%v", err)
		return
	}
	eh, _ := p.(sdk.EventHandler)
	ctx := context.Background()
	next := sdk.PeerID(1)
	apply := func(evs []sdk.Event) {
		for _, e := range evs {
			if err := s.Apply(e); err != nil {
				panic(err) // the kit's own script is wrong
			}
		}
		if eh != nil {
			if err := eh.HandleEvents(ctx, s, evs); err != nil {
				fail("HandleEvents: %v", err)
			}
		}
	}
	for range sc.peers {
		apply([]sdk.Event{sdk.PeerJoined{Peer: next, Have: randomBits(rng, sc.pieces, 0.3+rng.Float64()*0.7)}})
		next++
	}
	var urgent []int
	for step := range sc.steps {
		evs := sc.changes(rng, s, &next)
		if sc.urgent && step%5 == 0 {
			urgent = []int{rng.IntN(sc.pieces), rng.IntN(sc.pieces)}
			evs = append(evs, sdk.UrgentSet{Pieces: urgent})
		}
		apply(evs)
		var want []sdk.Want
		for _, id := range s.Peers() {
			want = append(want, sdk.Want{Peer: id, N: 16})
		}
		start := time.Now()
		picks, err := p.Pick(ctx, s, want)
		if d := time.Since(start); step == 0 || d < fastest {
			fastest = d
		}
		if err != nil {
			fail("step %d: Pick: %v", step, err)
			continue
		}
		checkPicks(s, want, picks, urgent, func(format string, args ...any) { fail("step %d: "+format, append([]any{step}, args...)...) })
	}
	if limit := MaxBatchCost * raceSlowdown; sc.pieces >= 10000 && fastest > limit {
		fail("too slow: %s for the fastest of %d batches of %d peers over %d pieces (limit %s)", fastest, sc.steps, sc.peers, sc.pieces, limit)
	}
	return faults, fastest
}

// changes makes one step of swarm life: haves, completions, peers leaving
// and joining.
func (sc scenario) changes(rng *rand.Rand, s *sdk.Swarm, next *sdk.PeerID) []sdk.Event {
	var evs []sdk.Event
	for range 1 + sc.pieces/50 {
		if i := rng.IntN(sc.pieces); !s.Have(i) {
			evs = append(evs, sdk.PieceDone{Piece: i})
		}
	}
	for _, id := range s.Peers() {
		if rng.IntN(4) == 0 {
			evs = append(evs, sdk.PeerHave{Peer: id, Piece: rng.IntN(sc.pieces)})
		}
	}
	if ids := s.Peers(); len(ids) > 1 && rng.IntN(3) == 0 {
		evs = append(evs, sdk.PeerLeft{Peer: ids[rng.IntN(len(ids))]})
		evs = append(evs, sdk.PeerJoined{Peer: *next, Have: randomBits(rng, sc.pieces, rng.Float64())})
		*next++
	}
	if i := rng.IntN(sc.pieces); !s.Have(i) {
		evs = append(evs, sdk.PieceStarted{Piece: i})
	}
	return evs
}

// checkPicks holds an answer to what the host accepts.
func checkPicks(s *sdk.Swarm, want []sdk.Want, picks sdk.Picks, urgent []int, fail func(string, ...any)) {
	asked := map[sdk.PeerID]int{}
	for _, w := range want {
		asked[w.Peer] = w.N
	}
	for id, list := range picks {
		n, ok := asked[id]
		if !ok {
			fail("picks for peer %d, which was not asked about", id)
			continue
		}
		if len(list) > n {
			fail("%d pieces for peer %d, which asked for %d", len(list), id, n)
		}
		seen := map[int]bool{}
		for _, i := range list {
			switch {
			case i < 0 || i >= s.Torrent().NumPieces:
				fail("piece %d out of range (%d pieces)", i, s.Torrent().NumPieces)
				return
			case seen[i]:
				fail("piece %d twice for peer %d", i, id)
			case s.Have(i):
				fail("piece %d, which is already complete", i)
			case !s.PeerHas(id, i):
				fail("piece %d for peer %d, which lacks it", i, id)
			case !s.Wanted(i) && !contains(urgent, i):
				fail("piece %d for peer %d, which holds only files the user skipped", i, id)
			}
			seen[i] = true
		}
	}
	// Urgent pieces the peer has and we lack come first.
	for _, w := range want {
		var due []int
		for _, u := range urgent {
			if !s.Have(u) && s.PeerHas(w.Peer, u) && !contains(due, u) {
				due = append(due, u)
			}
		}
		list := picks[w.Peer]
		for k, u := range due[:min(len(due), w.N)] {
			if k >= len(list) || list[k] != u {
				fail("urgent piece %d not at position %d for peer %d (got %v)", u, k, w.Peer, head(list))
				return
			}
		}
		if len(list) == 0 && hasMissing(s, w.Peer) {
			fail("nothing for peer %d, which has pieces we lack", w.Peer)
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func head(l []int) []int { return l[:min(len(l), 5)] }

func hasMissing(s *sdk.Swarm, peer sdk.PeerID) bool {
	for i := range s.Torrent().NumPieces {
		if !s.Have(i) && s.Wanted(i) && s.PeerHas(peer, i) {
			return true
		}
	}
	return false
}

// chosenRuns marks runs of consecutive pieces, as chosen files make,
// covering about frac of n.
func chosenRuns(rng *rand.Rand, n int, frac float64) bitfield.Bitfield {
	b := bitfield.New(n)
	for i := 0; i < n; {
		run := 1 + rng.IntN(20)
		if rng.Float64() < frac {
			for j := i; j < min(i+run, n); j++ {
				b.Set(j)
			}
		}
		i += run
	}
	return b
}

func randomBits(rng *rand.Rand, n int, density float64) bitfield.Bitfield {
	b := bitfield.New(n)
	for i := range n {
		if rng.Float64() < density {
			b.Set(i)
		}
	}
	return b
}
