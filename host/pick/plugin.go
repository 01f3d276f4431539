package pick

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/plugins"
	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/sdk"
)

// pluginConn is one running picker plugin and its current session.
type pluginConn struct {
	name    string
	plugin  *plugins.Plugin
	client  pickerpb.PickerClient
	started time.Time
	log     hclog.Logger
	sess    *session
	lastBad time.Time
}

// session is one Session stream: its first batch is a snapshot, so a new
// one (resync) replaces what the plugin knew. Its goroutines touch only
// their own session, so an old stream ending cannot fail the new one.
type session struct {
	cancel context.CancelFunc
	stream pickerpb.Picker_SessionClient
	sendq  chan *pickerpb.Batch
	seq    uint64
	ended  sync.Once

	mu       sync.Mutex
	err      error                         // first failure
	received []*pickerpb.Picks             // received, not yet delivered
	asked    map[uint64]map[sdk.PeerID]int // seq -> wants, for checking answers
	pending  map[uint64]time.Time          // batches with wants awaiting an answer
	extra    int                           // answers to no pending batch
}

// maxExtraAnswers is how many answers to batches that asked nothing (or
// were answered already) a plugin may send before it counts as flooding.
const maxExtraAnswers = 64

const sendQueue = 256

// startPlugin launches the plugin, checks its protocol, opens the session
// and sends the snapshot.
func startPlugin(ctx context.Context, path string, reattach *sdk.Reattach, log hclog.Logger, snap sdk.Snapshot) (*pluginConn, error) {
	p, err := plugins.Start(plugins.Options{Kind: sdk.PickerKind, Spec: path, Reattach: reattach, Logger: log})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*pluginConn, error) { p.Kill(); return nil, err }
	pc := pickerpb.NewPickerClient(p.Conn)
	cctx, cancelCaps := context.WithTimeout(ctx, 5*time.Second)
	caps, err := pc.Capabilities(cctx, &pickerpb.CapabilitiesRequest{HostProtocol: sdk.PickerProtocol, HostFeatures: []string{"urgent"}})
	cancelCaps()
	if err != nil {
		return fail(fmt.Errorf("capabilities: %w", err))
	}
	if caps.Protocol != sdk.PickerProtocol {
		return fail(fmt.Errorf("plugin speaks picker protocol %d, the host %d", caps.Protocol, sdk.PickerProtocol))
	}
	c := &pluginConn{name: caps.Name, plugin: p, client: pc, started: time.Now(), log: log}
	if c.sess, err = c.open(ctx, snap); err != nil {
		return fail(fmt.Errorf("session: %w", err))
	}
	return c, nil
}

// open starts a session whose first batch is snap.
func (c *pluginConn) open(ctx context.Context, snap sdk.Snapshot) (*session, error) {
	sctx, cancel := context.WithCancel(ctx)
	stream, err := c.client.Session(sctx)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &session{cancel: cancel, stream: stream, sendq: make(chan *pickerpb.Batch, sendQueue),
		asked: map[uint64]map[sdk.PeerID]int{}, pending: map[uint64]time.Time{}}
	s.seq++
	s.sendq <- &pickerpb.Batch{Seq: s.seq, Snapshot: snapshotToProto(snap)}
	go s.sendLoop()
	go s.recvLoop()
	return s, nil
}

// resync replaces the session with a new one that starts from snap: for
// a change a plugin has no event for (the files chosen). Answers the old
// session owed are lost; the swarm asks again for those.
func (c *pluginConn) resync(ctx context.Context, snap sdk.Snapshot) {
	s, err := c.open(ctx, snap)
	if err != nil {
		c.sess.fail(fmt.Errorf("new session: %w", err))
		return
	}
	c.sess.end()
	c.sess = s
}

// end stops the session's stream and its goroutines.
func (s *session) end() {
	s.ended.Do(func() {
		s.cancel()
		close(s.sendq) // only the manager's goroutine sends to it
	})
}

func (s *session) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *session) sendLoop() {
	for b := range s.sendq {
		if err := s.stream.Send(b); err != nil {
			s.fail(fmt.Errorf("send batch: %w", err))
			return
		}
	}
}

func (s *session) recvLoop() {
	for {
		p, err := s.stream.Recv()
		if err != nil {
			s.fail(fmt.Errorf("session ended: %w", err))
			return
		}
		s.mu.Lock()
		if _, ok := s.pending[p.Seq]; !ok {
			// Unasked-for answers are dropped; a stream of them would
			// cost the host memory and CPU.
			if s.extra++; s.extra > maxExtraAnswers {
				s.mu.Unlock()
				s.fail(fmt.Errorf("flooding: %d answers to batches that asked nothing or were answered already", s.extra))
				return
			}
			s.mu.Unlock()
			continue
		}
		delete(s.pending, p.Seq)
		s.received = append(s.received, p)
		s.mu.Unlock()
	}
}

// send queues a batch; a full queue means the plugin stopped reading.
func (c *pluginConn) send(events []sdk.Event, wants []sdk.Want, now time.Time) {
	s := c.sess
	s.seq++
	b := &pickerpb.Batch{Seq: s.seq, Events: eventsToProto(events)}
	if len(wants) > 0 {
		asked := make(map[sdk.PeerID]int, len(wants))
		for _, w := range wants {
			b.Want = append(b.Want, &pickerpb.Want{Peer: uint64(w.Peer), Count: uint32(w.N)})
			asked[w.Peer] = w.N
		}
		s.mu.Lock()
		s.asked[s.seq] = asked
		s.pending[s.seq] = now
		s.mu.Unlock()
	}
	select {
	case s.sendq <- b:
	default:
		s.fail(errors.New("stalled: it stopped reading batches"))
	}
}

// answers takes the checked answers received so far.
func (c *pluginConn) answers(mirror *sdk.Swarm) []sdk.Picks {
	s := c.sess
	s.mu.Lock()
	raw := s.received
	s.received = nil
	s.mu.Unlock()
	var out []sdk.Picks
	for _, p := range raw {
		s.mu.Lock()
		asked := s.asked[p.Seq]
		delete(s.asked, p.Seq)
		s.mu.Unlock()
		picks, bad := check(mirror, picksFromProto(p), asked)
		if bad != "" && time.Since(c.lastBad) > 10*time.Second {
			c.lastBad = time.Now()
			c.log.Warn("picker plugin answered badly; the bad entries are ignored", "plugin", c.name, "fault", bad)
		}
		out = append(out, picks)
	}
	return out
}

// failure is why the plugin must be restarted, if it must.
func (c *pluginConn) failure(now time.Time) error {
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if c.plugin.Exited() {
		return errors.New("plugin process exited")
	}
	for seq, at := range s.pending {
		if now.Sub(at) > stallAfter {
			return fmt.Errorf("stalled: no answer to batch %d for %s", seq, now.Sub(at).Round(time.Millisecond))
		}
	}
	return nil
}

// explain adds to a failure whether the process died with it; a dying
// plugin's stream often breaks a moment before its exit is seen.
func (c *pluginConn) explain(err error) error {
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c.plugin.Exited() {
			return fmt.Errorf("%w (plugin process exited)", err)
		}
	}
	return err
}

func (c *pluginConn) close() {
	c.sess.end()
	c.plugin.Kill()
}
