package session

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/minitracker"
)

// waitAnnounced waits until s has had a reply from its tracker.
func waitAnnounced(t *testing.T, ctx context.Context, s *Session) {
	t.Helper()
	for st, ok := s.Tracker(); !ok || st.LastAnnounce.IsZero(); st, ok = s.Tracker() {
		if ctx.Err() != nil {
			t.Fatalf("%s never announced", s.Dir())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BEP 3 events of real sessions, as a tracker records them: a seeder whose
// data is whole at start never says "completed"; a leecher without -seed
// says "completed" once, as it finishes, then "stopped"; run again on the
// finished data, it says no "completed".
func TestTrackerEventsBEP3(t *testing.T) {
	tr, err := minitracker.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	src := t.TempDir()
	torrent := makeTorrent(t, src, tr.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := func(s *Session) netip.AddrPort { return netip.MustParseAddrPort(s.opts.Listener.Addr().String()) }

	var wg sync.WaitGroup
	seedCtx, stopSeed := context.WithCancel(ctx)
	seed := startSession(t, seedCtx, &wg, torrent, src, Options{Seed: true, Logger: testLogger(t, "seeder")})
	waitAnnounced(t, ctx, seed)

	dir := t.TempDir()
	var lwg sync.WaitGroup
	leech := startSession(t, ctx, &lwg, torrent, dir, Options{Logger: testLogger(t, "leecher")})
	lwg.Wait() // without Seed, Run returns once complete
	if ctx.Err() != nil {
		t.Fatal("the leecher did not complete in time")
	}
	sameTree(t, src, dir)

	againCtx, stopAgain := context.WithCancel(ctx)
	again := startSession(t, againCtx, &lwg, torrent, dir, Options{Seed: true, Logger: testLogger(t, "again")})
	waitAnnounced(t, ctx, again)
	stopAgain()
	lwg.Wait()
	stopSeed()
	wg.Wait()

	for name, tc := range map[string]struct {
		s    *Session
		want []string
	}{
		"seeder, whole at start":       {seed, []string{"started", "stopped"}},
		"leecher, exits when complete": {leech, []string{"started", "completed", "stopped"}},
		"same data again, seeding":     {again, []string{"started", "stopped"}},
	} {
		if got := tr.Events(addr(tc.s)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: events %q, want %q", name, got, tc.want)
		}
	}
}
