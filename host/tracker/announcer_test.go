package tracker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// eventTracker is a scripted HTTP tracker that records the event of every
// announce ("" for a regular one) and answers with one peer.
type eventTracker struct {
	*httptest.Server
	mu     sync.Mutex
	events []string
}

func startEventTracker(t *testing.T) *eventTracker {
	et := &eventTracker{}
	et.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		et.mu.Lock()
		et.events = append(et.events, r.URL.Query().Get("event"))
		et.mu.Unlock()
		w.Write([]byte("d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"))
	}))
	t.Cleanup(et.Close)
	return et
}

func (et *eventTracker) Events() []string {
	et.mu.Lock()
	defer et.mu.Unlock()
	return slices.Clone(et.events)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// BEP 3 events: "completed" only for a download this session finishes,
// exactly once, even when the session ends the moment it completes
// (-seed=false); never for data that was whole at start.
func TestAnnouncerEvents(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		completes  bool // the download completes while running
		exitAtOnce bool // and the session stops right then (-seed=false)
		want       []string
	}{
		"complete at start":        {false, false, []string{"started", "stopped"}},
		"completes, seeds on":      {true, false, []string{"started", "completed", "stopped"}},
		"completes, exits at once": {true, true, []string{"started", "completed", "stopped"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			et := startEventTracker(t)
			var done chan struct{}
			cfg := Config{Tiers: [][]string{{et.URL + "/announce"}}, Port: 1, Stats: func() Stats { return Stats{Left: 1} }}
			if tc.completes {
				done = make(chan struct{})
				cfg.Completed = done
			}
			a := NewAnnouncer(cfg)
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() { defer close(ran); a.Run(ctx) }()
			waitFor(t, "started", func() bool { return len(et.Events()) == 1 })
			if tc.completes {
				close(done)
				if !tc.exitAtOnce {
					waitFor(t, "completed", func() bool { return len(et.Events()) == 2 })
				}
			}
			cancel()
			<-ran
			if got := et.Events(); !slices.Equal(got, tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
		})
	}
}

// A download that completes while the tracker is down: "completed" follows
// "started" once the tracker answers again.
func TestAnnouncerCompletedOwedUntilStarted(t *testing.T) {
	t.Parallel()
	et := startEventTracker(t)
	done := make(chan struct{})
	close(done)
	a := NewAnnouncer(Config{Tiers: [][]string{{et.URL + "/announce"}}, Stats: func() Stats { return Stats{} }, Completed: done})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); a.Run(ctx) }()
	waitFor(t, "started and completed", func() bool { return len(et.Events()) == 2 })
	cancel()
	<-ran
	if got, want := et.Events(), []string{"started", "completed", "stopped"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	none := func(int64) int64 { return 0 }
	most := func(n int64) int64 { return n - 1 }
	want := []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute,
		8 * time.Minute, 16 * time.Minute, 30 * time.Minute, 30 * time.Minute}
	for i, w := range want {
		if got := backoff(i+1, none); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
		if got := backoff(i+1, most); got != w+w/4 {
			t.Errorf("backoff(%d) with the most jitter = %v, want %v", i+1, got, w+w/4)
		}
	}
	for _, n := range []int{0, -1, 64, 1 << 30} {
		if got := backoff(n, none); got < errorBackoff || got > fallbackInterval {
			t.Errorf("backoff(%d) = %v, outside [%v, %v]", n, got, errorBackoff, fallbackInterval)
		}
	}
}

// Every tracker of the torrent misbehaves: the announcer tries each once,
// shows a short reason, and then waits out the backoff instead of
// spinning; a status line never holds the query string.
func TestAnnouncerBacksOffFromBadTrackers(t *testing.T) {
	t.Parallel()
	srv := startFaultServer(t)
	var tier []string
	for path := range httpFaults {
		tier = append(tier, srv.URL+path+"?passkey=secret")
	}
	refused := refusedURL(t, "http")
	tier = append(tier, refused+"?passkey=secret")
	a := NewAnnouncer(Config{Tiers: [][]string{tier}, Stats: func() Stats { return Stats{Left: 1} },
		Timeout: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); a.Run(ctx) }()
	waitFor(t, "a failed round", func() bool { return !a.Status().NextAnnounce.IsZero() })
	st := a.Status()
	failedAt := time.Now()
	// Watch a while: a spinning announcer would try again at once.
	time.Sleep(time.Second)
	cancel()
	<-ran
	for path := range httpFaults {
		most := 1
		if path == "/close" {
			most = 2 // net/http sends a GET again once when a kept-alive connection closes unanswered
		}
		if n := srv.count(path); n < 1 || n > most {
			t.Errorf("%s was asked %d times, want once", path, n)
		}
	}
	if st.LastError != "connection refused" || st.URL != refused+"?…" {
		t.Errorf("status %+v, want the last tracker tried, without its passkey, and connection refused", st)
	}
	if wait := st.NextAnnounce.Sub(failedAt); wait < errorBackoff-time.Second {
		t.Errorf("next announce in %v, want the backoff of at least %v", wait, errorBackoff)
	}
}

// A tracker that answered once and then fails: the status keeps the last
// good figures beside the short reason, and the peers handed out are never
// taken back (OnPeers is only ever called with a good reply's peers).
func TestAnnouncerKeepsPeersOnFailure(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	good := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if good {
			w.Write([]byte("d8:completei4e10:incompletei2e8:intervali1800e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe2e"))
			return
		}
		w.Write([]byte("<html>502 Bad Gateway</html>"))
	}))
	defer srv.Close()
	var got [][]netip.AddrPort
	a := NewAnnouncer(Config{Tiers: [][]string{{srv.URL}}, Stats: func() Stats { return Stats{Left: 1} },
		OnPeers: func(p []netip.AddrPort) { got = append(got, p) }})
	ctx := context.Background()
	if _, err := a.announce(ctx, Started); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	good = false
	mu.Unlock()
	for range 3 {
		if _, err := a.announce(ctx, None); err == nil {
			t.Fatal("a garbage reply was taken")
		}
	}
	st := a.Status()
	if st.LastError != "not a bencoded reply" || st.Peers != 2 || st.Seeders != 4 || st.Leechers != 2 || st.URL != srv.URL {
		t.Fatalf("status %+v", st)
	}
	if len(got) != 1 || len(got[0]) != 2 {
		t.Fatalf("OnPeers calls %v, want the first reply's two peers only", got)
	}
}

// Each tracker keeps its own status: one that refused shows why and, in a
// tier of its own, is due again next round (BEP 12 tries it first); the one
// that answered is current with its peers and moves to the front of its
// tier, where the other waits in reserve.
func TestTrackersStatusEach(t *testing.T) {
	t.Parallel()
	good := startEventTracker(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/announce"
	ln.Close()
	backup := "http://127.0.0.1:1/announce?passkey=s3cret"
	a := NewAnnouncer(Config{
		Tiers: [][]string{{refused}, {backup, good.URL + "/announce"}},
		Stats: func() Stats { return Stats{Left: 1} },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "an answer", func() bool { return a.Status().Peers == 1 && !a.Status().NextAnnounce.IsZero() })
	trs := a.Trackers()
	if len(trs) != 3 {
		t.Fatalf("%d trackers, want 3", len(trs))
	}
	r, b, g := trs[0], trs[1], trs[2]
	if r.URL != refused || r.Tier != 0 || r.Current || r.LastError != "connection refused" || r.NextAnnounce.IsZero() {
		t.Errorf("refused tracker: %+v", r)
	}
	if !g.Current || g.LastError != "" || g.LastAnnounce.IsZero() || g.Peers != 1 || g.NextAnnounce.IsZero() {
		t.Errorf("answering tracker: %+v", g)
	}
	// Tried before the good one and refused, it is now behind it: its
	// error stays, with no announce due.
	if b.URL != "http://127.0.0.1:1/announce?…" || b.Tier != 1 || b.Current || b.LastError != "connection refused" || !b.NextAnnounce.IsZero() || !b.LastAnnounce.IsZero() {
		t.Errorf("reserve tracker: %+v", b)
	}
	if a.Status() != g {
		t.Errorf("Status() = %+v, want the answering tracker's", a.Status())
	}
}
