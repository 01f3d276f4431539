package pick

import (
	"bytes"
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
	Wanted   bitfield.Bitfield // the zero Bitfield: every piece
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
	wanted  *bitfield.Bitfield // a new Wanted, not yet applied
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
	mirror, err := sdk.NewSwarm(sdk.Snapshot{Torrent: cfg.Torrent, Have: cfg.Have, Wanted: cfg.Wanted})
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

// SetWanted replaces the pieces the user wants (files chosen or skipped
// while the torrent runs; the zero Bitfield: every piece). The picker
// protocol has no event for it, so the plugin gets a new session whose
// snapshot holds it.
func (m *Manager) SetWanted(w bitfield.Bitfield) {
	w = w.Clone()
	m.mu.Lock()
	m.wanted = &w
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

func (m *Manager) take() ([]sdk.Event, []sdk.Want, *bitfield.Bitfield) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, w, wanted := m.events, m.wants, m.wanted
	m.events, m.wants, m.wanted = nil, nil, nil
	return e, w, wanted
}

// setWanted rebuilds the mirror with a new Wanted; it reports whether
// that changed anything.
func (m *Manager) setWanted(w bitfield.Bitfield) (bool, error) {
	snap := m.mirror.Snapshot()
	if w.Len() == snap.Wanted.Len() && bytes.Equal(w.Bytes(), snap.Wanted.Bytes()) {
		return false, nil
	}
	snap.Wanted = w
	mirror, err := sdk.NewSwarm(snap)
	if err != nil {
		return false, err
	}
	m.mirror = mirror
	return true, nil
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
	sup := newSupervisor(m)
	defer sup.stop()
	tick := time.NewTicker(batchEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-tick.C:
		}
		events, wants, wanted := m.take()
		for _, e := range events {
			if err := m.mirror.Apply(e); err != nil {
				m.log.Debug("picker state", "error", err)
			}
		}
		resync := false
		if wanted != nil {
			var err error
			if resync, err = m.setWanted(*wanted); err != nil {
				m.log.Error("picker state: wanted pieces", "error", err)
			}
		}
		now := time.Now()
		if conn := sup.conn(ctx, now); conn != nil {
			if resync {
				// The new snapshot holds this batch's events too.
				conn.resync(ctx, m.mirror.Snapshot())
				events = nil
			}
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

// supervisor keeps the picker plugin running: it notices a plugin that
// failed, restarts it with backoff, and keeps the manager's Status.
type supervisor struct {
	m         *Manager
	path      string // what to start: the found executable, or the debug-mode plugin; "" for none
	c         *pluginConn
	backoff   time.Duration
	nextStart time.Time
}

func newSupervisor(m *Manager) *supervisor {
	s := &supervisor{m: m, backoff: firstBackoff}
	if r := m.cfg.Reattach; r != nil {
		s.path = plugins.DebugName(sdk.PickerKind, r.Pid)
	} else if m.cfg.Spec != "" {
		p, err := plugins.Find(sdk.PickerKind, m.cfg.Spec)
		if err != nil {
			m.log.Warn("picker plugin not found; using the built-in rarest-first picker", "error", err)
			m.setStatus(func(s *Status) { s.LastErr = err.Error() })
		}
		s.path = p
	}
	return s
}

// conn is the plugin connection to use now, nil while the built-in picker
// answers: a failed plugin is dropped, and one is started when its backoff
// is over.
func (s *supervisor) conn(ctx context.Context, now time.Time) *pluginConn {
	if s.c != nil {
		if err := s.c.failure(now); err != nil {
			s.failed(s.c.explain(err), now)
		}
	}
	if s.c == nil && s.path != "" && !now.Before(s.nextStart) {
		s.start(ctx, now)
	}
	return s.c
}

func (s *supervisor) failed(err error, now time.Time) {
	up := now.Sub(s.c.started)
	s.m.log.Warn("picker plugin failed; the built-in picker takes over until it restarts",
		"plugin", s.m.cfg.Spec, "path", s.path, "cause", err, "up", up.Round(time.Millisecond), "restart_in", s.backoff)
	s.c.close()
	s.c = nil
	if up > healthyAfter {
		s.backoff = firstBackoff
	}
	s.wait(now)
	s.m.setStatus(func(st *Status) { st.Active, st.LastErr = false, err.Error() })
}

// wait puts the next start one backoff away and doubles the backoff.
func (s *supervisor) wait(now time.Time) {
	s.nextStart = now.Add(s.backoff)
	s.backoff = min(2*s.backoff, maxBackoff)
}

func (s *supervisor) start(ctx context.Context, now time.Time) {
	c, err := startPlugin(ctx, s.path, s.m.cfg.Reattach, s.m.log, s.m.mirror.Snapshot())
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: nothing to say.
	case err != nil:
		s.m.log.Warn("picker plugin did not start; using the built-in picker", "plugin", s.m.cfg.Spec, "path", s.path, "cause", err, "retry_in", s.backoff)
		s.wait(now)
		s.m.setStatus(func(st *Status) { st.LastErr = err.Error() })
	default:
		s.c = c
		s.m.log.Info("picker plugin running", "plugin", s.m.cfg.Spec, "name", c.name, "path", s.path)
		s.m.setStatus(func(st *Status) { st.Active, st.Path = true, s.path; st.Restarts++ })
	}
}

func (s *supervisor) stop() {
	if s.c != nil {
		s.c.close()
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
