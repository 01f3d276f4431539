package session

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
)

// rateTracker is a scripted HTTP tracker: interval 1 h, min interval 1 s.
// It hands out no peers until it has seen slowRounds regular announces,
// then the fast peer, and records every announce's event.
type rateTracker struct {
	*httptest.Server
	fast       netip.AddrPort
	slowRounds int
	mu         sync.Mutex
	events     []string // "" for a regular announce
	handedAt   int      // len(events) when the fast peer was first handed out; 0 = not yet
}

func startRateTracker(t *testing.T, slowRounds int) *rateTracker {
	rt := &rateTracker{slowRounds: slowRounds}
	rt.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		rt.events = append(rt.events, r.URL.Query().Get("event"))
		regular := 0
		for _, e := range rt.events {
			if e == "" {
				regular++
			}
		}
		var peers []byte
		if regular >= rt.slowRounds && rt.fast.IsValid() {
			if rt.handedAt == 0 {
				rt.handedAt = len(rt.events)
			}
			p := rt.fast
			peers = append(p.Addr().AsSlice(), byte(p.Port()>>8), byte(p.Port()))
		}
		rt.mu.Unlock()
		w.Write([]byte("d8:intervali3600e12:min intervali1e5:peers" + strconv.Itoa(len(peers)) + ":" + string(peers) + "e"))
	}))
	t.Cleanup(rt.Close)
	return rt
}

func (rt *rateTracker) snapshot() (events []string, handedAt int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.events...), rt.handedAt
}

// More peers below -want-rate: while a libtorrent seeder capped at 8 kB/s
// is our only source (under the 50 kB/s want rate), we re-announce at the
// tracker's min interval (1 s; its interval is 1 h, so any re-announce in
// the test comes from the min interval). Once the tracker hands out a
// second seeder capped at 300 kB/s, the download is faster than the want
// rate and we wait the interval: the rest of the download, at least 10 s
// by the fast seeder's cap, brings at most a few announces while the rate
// meter catches up, where the min interval would bring about ten.
func TestAnnounceMoreOftenWhileSlow(t *testing.T) {
	const slowRounds = 3
	rt := startRateTracker(t, slowRounds)
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/rate.bin", Size: 3 << 20})
	torrent := realpeers.MakeTorrent(t, src, rt.URL+"/announce", 16)
	// Loopback peers ignore libtorrent's rate limits unless put in the
	// global peer class: realpeers' UploadRateLimit does that.
	slow := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 8_000})
	fast := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 300_000})
	rt.mu.Lock()
	rt.fast = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(fast.Port))
	rt.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := Open(torrent, Options{
		Dir: filepath.Join(t.TempDir(), "dl"), Listener: ln, WantRate: 50_000,
		Peers:  []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(slow.Port))},
		Logger: testLogger(t, "leecher"),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.announceGap = 100 * time.Millisecond
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the download did not complete in time")
	}
	events, handedAt := rt.snapshot()
	t.Logf("announces: %q; fast seeder handed out in reply %d", events, handedAt)
	if len(events) == 0 || events[0] != "started" {
		t.Fatalf("first announce %q, want started", events)
	}
	if handedAt == 0 {
		t.Fatalf("only %d announces: the slow download never re-announced at the min interval", len(events))
	}
	// Regular announces before the hand-out: each came one min interval
	// after the last while slow.
	for _, e := range events[1:handedAt] {
		if e != "" {
			t.Fatalf("event %q while slow, before the fast seeder: %q", e, events)
		}
	}
	after := 0
	for _, e := range events[handedAt:] {
		if e == "" {
			after++
		}
	}
	if after > 4 {
		t.Fatalf("%d regular announces once the fast seeder was handed out, want at most 4 (interval is 1 h): %q", after, events)
	}
	if n := len(events); events[n-2] != "completed" || events[n-1] != "stopped" {
		t.Fatalf("announces end %q, want completed then stopped", events[max(n-2, 0):])
	}
}
