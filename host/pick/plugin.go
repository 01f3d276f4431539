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

// pluginConn is one running picker plugin and its session stream.
type pluginConn struct {
	name    string
	plugin  *plugins.Plugin
	cancel  context.CancelFunc
	stream  pickerpb.Picker_SessionClient
	started time.Time
	log     hclog.Logger
	sendq   chan *pickerpb.Batch
	seq     uint64

	mu       sync.Mutex
	err      error                         // first failure
	received []*pickerpb.Picks             // received, not yet delivered
	asked    map[uint64]map[sdk.PeerID]int // seq -> wants, for checking answers
	pending  map[uint64]time.Time          // batches with wants awaiting an answer
	extra    int                           // answers to no pending batch
	lastBad  time.Time
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
	sctx, cancel := context.WithCancel(ctx)
	stream, err := pc.Session(sctx)
	if err != nil {
		cancel()
		return fail(fmt.Errorf("session: %w", err))
	}
	c := &pluginConn{
		name: caps.Name, plugin: p, cancel: cancel, stream: stream, started: time.Now(), log: log,
		sendq: make(chan *pickerpb.Batch, sendQueue), asked: map[uint64]map[sdk.PeerID]int{}, pending: map[uint64]time.Time{},
	}
	c.seq++
	c.sendq <- &pickerpb.Batch{Seq: c.seq, Snapshot: snapshotToProto(snap)}
	go c.sendLoop()
	go c.recvLoop()
	return c, nil
}

func (c *pluginConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *pluginConn) sendLoop() {
	for b := range c.sendq {
		if err := c.stream.Send(b); err != nil {
			c.fail(fmt.Errorf("send batch: %w", err))
			return
		}
	}
}

func (c *pluginConn) recvLoop() {
	for {
		p, err := c.stream.Recv()
		if err != nil {
			c.fail(fmt.Errorf("session ended: %w", err))
			return
		}
		c.mu.Lock()
		if _, ok := c.pending[p.Seq]; !ok {
			// Unasked-for answers are dropped; a stream of them would
			// cost the host memory and CPU.
			if c.extra++; c.extra > maxExtraAnswers {
				c.mu.Unlock()
				c.fail(fmt.Errorf("flooding: %d answers to batches that asked nothing or were answered already", c.extra))
				return
			}
			c.mu.Unlock()
			continue
		}
		delete(c.pending, p.Seq)
		c.received = append(c.received, p)
		c.mu.Unlock()
	}
}

// send queues a batch; a full queue means the plugin stopped reading.
func (c *pluginConn) send(events []sdk.Event, wants []sdk.Want, now time.Time) {
	c.seq++
	b := &pickerpb.Batch{Seq: c.seq, Events: eventsToProto(events)}
	if len(wants) > 0 {
		asked := make(map[sdk.PeerID]int, len(wants))
		for _, w := range wants {
			b.Want = append(b.Want, &pickerpb.Want{Peer: uint64(w.Peer), Count: uint32(w.N)})
			asked[w.Peer] = w.N
		}
		c.mu.Lock()
		c.asked[c.seq] = asked
		c.pending[c.seq] = now
		c.mu.Unlock()
	}
	select {
	case c.sendq <- b:
	default:
		c.fail(errors.New("stalled: it stopped reading batches"))
	}
}

// answers takes the checked answers received so far.
func (c *pluginConn) answers(s *sdk.Swarm) []sdk.Picks {
	c.mu.Lock()
	raw := c.received
	c.received = nil
	c.mu.Unlock()
	var out []sdk.Picks
	for _, p := range raw {
		c.mu.Lock()
		asked := c.asked[p.Seq]
		delete(c.asked, p.Seq)
		c.mu.Unlock()
		picks, bad := check(s, picksFromProto(p), asked)
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.plugin.Exited() {
		return errors.New("plugin process exited")
	}
	for seq, at := range c.pending {
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
	c.cancel()
	c.plugin.Kill()
}
