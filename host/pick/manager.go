package pick

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/plugins"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Config configures a Manager.
type Config struct {
	Spec     string        // plugin name or path; "" runs the built-in picker only
	Reattach *sdk.Reattach // a picker started by hand in debug mode, instead of Spec
	Logger   hclog.Logger
	Torrent  sdk.Torrent
	Have     bitfield.Bitfield
}

// Status says which picker is answering.
type Status struct {
	Plugin   string // as given in Config.Spec
	Path     string
	Active   bool // the plugin answers; false: the built-in picker does
	Restarts int
	LastErr  string
}

// Timing of the plugin supervision.
const (
	batchEvery   = 20 * time.Millisecond
	stallAfter   = 3 * time.Second
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
	healthyAfter = 30 * time.Second // up this long: the next crash restarts quickly again
)

// Manager runs the picker for one torrent. Post and Picks never block the
// core loop.
type Manager struct {
	cfg     Config
	log     hclog.Logger
	mu      sync.Mutex
	events  []sdk.Event
	wants   []sdk.Want
	wake    chan struct{}
	picks   chan sdk.Picks
	status  Status
	done    chan struct{}
	cancel  context.CancelFunc
	mirror  *sdk.Swarm
	builtin sdk.Picker
}

// Start starts the manager; plugin trouble is logged, never returned: the
// built-in picker answers meanwhile.
func Start(ctx context.Context, cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Manager{
		cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), picks: make(chan sdk.Picks, 1),
		done: make(chan struct{}), cancel: cancel, builtin: NewRarestFirst(),
		status: Status{Plugin: cfg.Spec},
	}
	mirror, err := sdk.NewSwarm(sdk.Snapshot{Torrent: cfg.Torrent, Have: cfg.Have})
	if err != nil { // the host's own data: a bug, but not worth a crash
		m.log.Error("picker state", "error", err)
		mirror, _ = sdk.NewSwarm(sdk.Snapshot{Torrent: sdk.Torrent{PieceLength: 1}, Have: bitfield.New(0)})
	}
	m.mirror = mirror
	go m.run(ctx)
	return m
}

// Post queues state changes and wants for the next batch.
func (m *Manager) Post(events []sdk.Event, want []sdk.Want) {
	m.mu.Lock()
	m.events = append(m.events, events...)
	m.wants = append(m.wants, want...)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Picks delivers the newest answer.
func (m *Manager) Picks() <-chan sdk.Picks { return m.picks }

// Status reports which picker answers.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Close stops the plugin and waits for the manager to finish.
func (m *Manager) Close() {
	m.cancel()
	<-m.done
}

func (m *Manager) take() ([]sdk.Event, []sdk.Want) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, w := m.events, m.wants
	m.events, m.wants = nil, nil
	return e, w
}

// deliver replaces any unread answer with a merge of both: an answer for a
// peer is never lost to one for another.
func (m *Manager) deliver(p sdk.Picks) {
	if len(p) == 0 {
		return
	}
	select {
	case old := <-m.picks:
		for id, l := range p {
			old[id] = l
		}
		p = old
	default:
	}
	m.picks <- p
}

func (m *Manager) setStatus(f func(*Status)) {
	m.mu.Lock()
	f(&m.status)
	m.mu.Unlock()
}

func (m *Manager) run(ctx context.Context) {
	defer close(m.done)
	var (
		conn      *pluginConn
		backoff   = firstBackoff
		nextStart time.Time
		tick      = time.NewTicker(batchEvery)
		path      string
	)
	defer tick.Stop()
	defer func() {
		if conn != nil {
			conn.close()
		}
	}()
	if r := m.cfg.Reattach; r != nil {
		path = fmt.Sprintf("debug-mode picker, pid %d", r.Pid)
	} else if m.cfg.Spec != "" {
		p, err := plugins.Find(sdk.PickerKind, m.cfg.Spec)
		if err != nil {
			m.log.Warn("picker plugin not found; using the built-in rarest-first picker", "error", err)
			m.setStatus(func(s *Status) { s.LastErr = err.Error() })
		}
		path = p
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-tick.C:
		}
		events, wants := m.take()
		for _, e := range events {
			if err := m.mirror.Apply(e); err != nil {
				m.log.Debug("picker state", "error", err)
			}
		}
		now := time.Now()
		if conn != nil {
			if err := conn.failure(now); err != nil {
				err = conn.explain(err)
				up := now.Sub(conn.started)
				m.log.Warn("picker plugin failed; the built-in picker takes over until it restarts",
					"plugin", m.cfg.Spec, "path", path, "cause", err, "up", up.Round(time.Millisecond), "restart_in", backoff)
				conn.close()
				conn = nil
				if up > healthyAfter {
					backoff = firstBackoff
				}
				nextStart = now.Add(backoff)
				backoff = min(2*backoff, maxBackoff)
				m.setStatus(func(s *Status) { s.Active, s.LastErr = false, err.Error() })
			}
		}
		if conn == nil && path != "" && !now.Before(nextStart) {
			c, err := startPlugin(ctx, path, m.cfg.Reattach, m.log, m.mirror.Snapshot())
			if err != nil && ctx.Err() != nil {
				return // shutting down
			}
			if err != nil {
				m.log.Warn("picker plugin did not start; using the built-in picker", "plugin", m.cfg.Spec, "path", path, "cause", err, "retry_in", backoff)
				nextStart = now.Add(backoff)
				backoff = min(2*backoff, maxBackoff)
				m.setStatus(func(s *Status) { s.LastErr = err.Error() })
			} else {
				conn = c
				m.log.Info("picker plugin running", "plugin", m.cfg.Spec, "name", c.name, "path", path)
				m.setStatus(func(s *Status) { s.Active, s.Path = true, path; s.Restarts++ })
			}
		}
		if conn != nil {
			if len(events) > 0 || len(wants) > 0 {
				conn.send(events, wants, now)
			}
			for _, p := range conn.answers(m.mirror) {
				m.deliver(p)
			}
			continue
		}
		if len(wants) > 0 {
			p, _ := m.builtin.Pick(ctx, m.mirror, wants)
			m.deliver(p)
		}
	}
}

// check validates a plugin's answer against the state it was computed
// from: out-of-range, duplicate, unavailable or owned pieces are dropped,
// lists are capped; what was wrong is returned for the log.
func check(s *sdk.Swarm, p sdk.Picks, asked map[sdk.PeerID]int) (sdk.Picks, string) {
	var bad string
	out := make(sdk.Picks, len(p))
	for id, list := range p {
		n, ok := asked[id]
		if !ok {
			bad = fmt.Sprintf("answered for peer %d, which was not asked about", id)
			continue
		}
		seen := make(map[int]bool, len(list))
		clean := make([]int, 0, min(len(list), n))
		for _, i := range list {
			switch {
			case i < 0 || i >= s.Torrent().NumPieces:
				bad = fmt.Sprintf("piece %d out of range", i)
			case seen[i]:
				bad = fmt.Sprintf("piece %d twice", i)
			case s.Have(i) || !s.Connected(id):
				// The state moved on since the picker answered.
			case !s.PeerHas(id, i):
				bad = fmt.Sprintf("piece %d, which peer %d lacks", i, id)
			case len(clean) >= n:
				bad = fmt.Sprintf("%d pieces for peer %d, which asked for %d", len(list), id, n)
			default:
				clean = append(clean, i)
			}
			seen[i] = true
		}
		out[id] = clean
	}
	return out, bad
}
