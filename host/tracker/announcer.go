package tracker

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
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
}

// Status is what a UI shows about the tracker.
type Status struct {
	URL          string
	LastError    string
	LastAnnounce time.Time
	NextAnnounce time.Time
	Peers        int // in the last reply
	Seeders      int
	Leechers     int
}

// Announcer runs the announce policy for one torrent.
type Announcer struct {
	cfg       Config
	tiers     [][]string
	key       uint32
	completed chan struct{}
	once      sync.Once
	mu        sync.Mutex
	status    Status
	trackerID string
}

// Policy constants.
const (
	fallbackInterval = 30 * time.Minute
	minAnnounceGap   = 15 * time.Second
	errorBackoff     = 15 * time.Second
	stopTimeout      = 3 * time.Second
)

// NewAnnouncer prepares an announcer; Run starts it.
func NewAnnouncer(cfg Config) *Announcer {
	if cfg.WantRate == 0 {
		cfg.WantRate = 50_000
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	a := &Announcer{cfg: cfg, completed: make(chan struct{})}
	for _, t := range cfg.Tiers {
		a.tiers = append(a.tiers, append([]string(nil), t...))
	}
	var k [4]byte
	crand.Read(k[:])
	a.key = binary.BigEndian.Uint32(k[:])
	return a
}

// Completed asks for a "completed" announce soon; later calls do nothing.
func (a *Announcer) Completed() { a.once.Do(func() { close(a.completed) }) }

// Status is the latest state, safe from any goroutine.
func (a *Announcer) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// Run announces "started", then again by the policy, "completed" when told,
// and "stopped" (bounded in time) once ctx ends.
func (a *Announcer) Run(ctx context.Context) {
	if len(a.tiers) == 0 {
		<-ctx.Done()
		return
	}
	event := Started
	completed := a.completed
	failures := 0
	for {
		resp, err := a.announce(ctx, event)
		var wait time.Duration
		if err != nil {
			failures++
			wait = min(errorBackoff<<min(failures-1, 6), fallbackInterval)
			wait += time.Duration(rand.Int64N(int64(wait/4) + 1))
		} else {
			failures = 0
			if event == Completed {
				completed = nil
			}
			event = None
			wait = a.nextWait(resp)
		}
		a.mu.Lock()
		a.status.NextAnnounce = time.Now().Add(wait)
		a.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if event != Started { // never announced successfully: nothing to stop
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
				a.announce(sctx, Stopped)
				cancel()
			}
			return
		case <-completed:
			t.Stop()
			completed = nil
			if event != Started {
				event = Completed
			}
		case <-t.C:
		}
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
		return max(min(minI, interval), minAnnounceGap)
	}
	return max(interval, minAnnounceGap)
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
			resp, err := Announce(ctx, u, req)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err() // shutting down: not the tracker's fault
				}
				lastErr = err
				a.cfg.Logger.Warn("announce failed", "url", u, "event", event.String(), "error", err)
				continue
			}
			copy(tier[1:i+1], tier[:i])
			tier[0] = u
			if resp.TrackerID != "" {
				a.trackerID = resp.TrackerID
			}
			if resp.Warning != "" {
				a.cfg.Logger.Warn("tracker warning", "url", u, "warning", resp.Warning)
			}
			a.cfg.Logger.Debug("announced", "url", u, "event", event.String(), "peers", len(resp.Peers),
				"interval", resp.Interval, "min_interval", resp.MinInterval)
			a.mu.Lock()
			a.status = Status{URL: u, LastAnnounce: time.Now(), Peers: len(resp.Peers), Seeders: resp.Complete, Leechers: resp.Incomplete}
			a.mu.Unlock()
			if len(resp.Peers) > 0 && a.cfg.OnPeers != nil && event != Stopped {
				a.cfg.OnPeers(resp.Peers)
			}
			return resp, nil
		}
	}
	if lastErr != nil {
		a.mu.Lock()
		a.status.LastError = lastErr.Error()
		a.mu.Unlock()
	}
	return nil, lastErr
}
