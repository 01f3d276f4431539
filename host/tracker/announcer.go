package tracker

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Stats are the numbers an announce reports.
type Stats struct {
	Uploaded, Downloaded, Left int64
	DownRate                   int64 // bytes/s now
}

// Config configures an Announcer.
type Config struct {
	Tiers            [][]string
	InfoHash, PeerID [20]byte
	Port             int
	Stats            func() Stats           // called before every announce
	OnPeers          func([]netip.AddrPort) // peers from each reply
	Logger           hclog.Logger
	WantRate         int64 // below this download rate, ask for peers at the min interval; default 50 kB/s
	// Completed closes when this session completes the download; nil when
	// there is nothing to complete (the data was whole at start). BEP 3's
	// "completed" is sent once, for that moment only.
	Completed <-chan struct{}
	Timeout   time.Duration // for one tracker's answer; default 30 s
	// MinGap is the shortest wait between two announces, whatever the
	// tracker's min interval; default 15 s. Tests shorten it to watch the
	// policy over a few seconds.
	MinGap time.Duration
}

// Status is what a UI shows about a tracker.
type Status struct {
	URL          string // without a passkey (redact)
	Tier         int    // BEP 12 tier, from 0
	Current      bool   // the tracker that last answered or was tried last
	LastError    string // short, from Reason; empty after a good reply
	LastAnnounce time.Time
	NextAnnounce time.Time
	Peers        int // in the last good reply
	Seeders      int
	Leechers     int
}

// Announcer runs the announce policy for one torrent.
type Announcer struct {
	cfg       Config
	tiers     [][]string // reordered as trackers answer (BEP 12)
	key       uint32
	mu        sync.Mutex
	list      []Status       // every tracker, in the torrent's order
	index     map[string]int // raw URL -> list
	cur       int            // list index of the current tracker; -1 before any try
	trackerID string
}

// Policy constants.
const (
	fallbackInterval = 30 * time.Minute
	minAnnounceGap   = 15 * time.Second
	errorBackoff     = 15 * time.Second
	stopTimeout      = 3 * time.Second
	announceTimeout  = 30 * time.Second
)

// NewAnnouncer prepares an announcer; Run starts it.
func NewAnnouncer(cfg Config) *Announcer {
	if cfg.WantRate == 0 {
		cfg.WantRate = 50_000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = announceTimeout
	}
	if cfg.MinGap == 0 {
		cfg.MinGap = minAnnounceGap
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	a := &Announcer{cfg: cfg, index: map[string]int{}, cur: -1}
	for i, t := range cfg.Tiers {
		a.tiers = append(a.tiers, append([]string(nil), t...))
		for _, u := range t {
			if _, dup := a.index[u]; !dup {
				a.index[u] = len(a.list)
				a.list = append(a.list, Status{URL: redact(u), Tier: i})
			}
		}
	}
	var k [4]byte
	crand.Read(k[:])
	a.key = binary.BigEndian.Uint32(k[:])
	return a
}

// Status is the current tracker's state (the one that last answered or
// was tried last; zero before any announce), safe from any goroutine.
func (a *Announcer) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur < 0 {
		return Status{}
	}
	return a.list[a.cur]
}

// Trackers is every tracker's state in the torrent's order, safe from any
// goroutine. Trackers that BEP 12 keeps in reserve (a tracker before them
// answers) are listed with no announce.
func (a *Announcer) Trackers() []Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Status(nil), a.list...)
}

// update changes the status of the tracker at raw URL u under the lock,
// and makes it the current one.
func (a *Announcer) update(u string, f func(*Status)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := a.index[u]
	if !ok {
		return
	}
	if a.cur >= 0 {
		a.list[a.cur].Current = false
	}
	a.cur = i
	a.list[i].Current = true
	f(&a.list[i])
}

// Run announces "started", then again by the policy, "completed" once
// Config.Completed closes, and ("completed" first if it is still owed)
// "stopped", bounded in time, once ctx ends. A failed round waits
// backoff(failures) before the next; the peers handed out before stay.
func (a *Announcer) Run(ctx context.Context) {
	if len(a.tiers) == 0 {
		<-ctx.Done()
		return
	}
	var (
		started  bool              // a tracker took our "started"
		owed     = a.cfg.Completed // nil once "completed" is sent
		failures int
	)
	for {
		event := None
		switch {
		case !started:
			event = Started
		case closed(owed):
			event = Completed
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if event == Completed {
			// A shutdown right after completing (-seed=false) must not cut
			// this announce short, or stop would send "completed" twice.
			actx, cancel = lingering(ctx, stopTimeout)
		}
		resp, err := a.announce(actx, event)
		cancel()
		var wait time.Duration
		if err != nil {
			failures++
			wait = backoff(failures, rand.Int64N)
		} else {
			failures = 0
			started = true
			if event == Completed {
				owed = nil
			}
			wait = a.nextWait(resp)
			if closed(owed) {
				wait = 0 // completed before "started" got through: say so now
			}
		}
		var wake <-chan struct{} // cuts the wait short when the download completes
		if started && !closed(owed) {
			wake = owed
		}
		a.nextRound(time.Now().Add(wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if started { // a tracker that never took "started" needs no "stopped"
				a.stop(ctx, closed(owed))
			}
			return
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// nextRound marks when each tracker the next round will try is due: in
// BEP 12 order, every one up to and including the first that answered
// last time; the rest wait in reserve.
func (a *Announcer) nextRound(at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reached := false
	for _, tier := range a.tiers {
		for _, u := range tier {
			st := &a.list[a.index[u]]
			st.NextAnnounce = time.Time{}
			if !reached {
				st.NextAnnounce = at
				reached = st.LastError == "" && !st.LastAnnounce.IsZero()
			}
		}
	}
}

// stop sends "stopped", and first "completed" if the download finished
// but the tracker has not heard (with -seed=false the session ends at the
// moment it completes), both within stopTimeout.
func (a *Announcer) stop(ctx context.Context, completed bool) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if completed {
		if _, err := a.announce(sctx, Completed); err != nil {
			return // the tracker is not answering: do not spend the budget twice
		}
	}
	a.announce(sctx, Stopped)
}

// lingering is ctx, but ends only d after ctx does.
func lingering(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(d, cancel) })
	return c, func() { stop(); cancel() }
}

// backoff is the wait after the n-th failed round in a row: 15 s doubling
// to 30 min, plus up to a quarter more at random so that many clients
// failed by one outage do not return together. randN is rand.Int64N.
func backoff(n int, randN func(int64) int64) time.Duration {
	wait := min(errorBackoff<<min(max(n, 1)-1, 7), fallbackInterval)
	return wait + time.Duration(randN(int64(wait/4)+1))
}

func closed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// nextWait is the original client's policy: while downloading slower than
// WantRate, ask for more peers as often as the tracker allows.
func (a *Announcer) nextWait(r *Response) time.Duration {
	interval := r.Interval
	if interval <= 0 {
		interval = fallbackInterval
	}
	st := a.cfg.Stats()
	if st.Left > 0 && st.DownRate < a.cfg.WantRate {
		minI := r.MinInterval
		if minI <= 0 {
			minI = max(interval/4, 30*time.Second)
		}
		return max(min(minI, interval), a.cfg.MinGap)
	}
	return max(interval, a.cfg.MinGap)
}

// announce tries each tracker tier by tier (BEP 12); a tracker that answers
// moves to the front of its tier.
func (a *Announcer) announce(ctx context.Context, event Event) (*Response, error) {
	st := a.cfg.Stats()
	req := Request{
		InfoHash: a.cfg.InfoHash, PeerID: a.cfg.PeerID, Port: a.cfg.Port,
		Uploaded: st.Uploaded, Downloaded: st.Downloaded, Left: st.Left,
		Event: event, NumWant: 80, Key: a.key, TrackerID: a.trackerID,
	}
	if event == Stopped {
		req.NumWant = 0
	}
	var lastErr error
	for _, tier := range a.tiers {
		for i, u := range tier {
			actx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
			resp, err := Announce(actx, u, req)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err() // shutting down: not the tracker's fault
				}
				lastErr = err
				a.update(u, func(s *Status) { s.LastError = Reason(err) })
				a.cfg.Logger.Warn("announce failed", "tracker", redact(u), "event", event.String(), "reason", Reason(err))
				a.cfg.Logger.Debug("announce failed", "error", err)
				continue
			}
			copy(tier[1:i+1], tier[:i])
			tier[0] = u
			if resp.TrackerID != "" {
				a.trackerID = resp.TrackerID
			}
			if resp.Warning != "" {
				a.cfg.Logger.Warn("tracker warning", "tracker", redact(u), "warning", printable(resp.Warning, 200))
			}
			a.cfg.Logger.Debug("announced", "url", u, "event", event.String(), "peers", len(resp.Peers),
				"interval", resp.Interval, "min_interval", resp.MinInterval)
			a.update(u, func(s *Status) {
				s.LastError, s.LastAnnounce = "", time.Now()
				s.Peers, s.Seeders, s.Leechers = len(resp.Peers), resp.Complete, resp.Incomplete
			})
			if len(resp.Peers) > 0 && a.cfg.OnPeers != nil && event != Stopped {
				a.cfg.OnPeers(resp.Peers)
			}
			return resp, nil
		}
	}
	return nil, lastErr
}

// redact drops a tracker URL's query, where private trackers put a passkey.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
