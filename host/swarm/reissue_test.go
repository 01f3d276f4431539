package swarm_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
)

// Request timeouts, rejects and endgame over loopback: a real swarm, and
// scripted peers whose every message in and out is traced in one order.
// Each test first lets the swarm deal with the misbehaving peer alone, so
// what frees its blocks can only be the mechanism under test, and waits
// for events, never for time.

// block names one block of the torrent.
type block struct{ index, begin uint32 }

func (b block) String() string { return fmt.Sprintf("%d/%d", b.index, b.begin) }

// wireEvent is one message a scripted peer read (sent false) or wrote.
type wireEvent struct {
	peer string
	sent bool
	id   wire.MessageID
	b    block
}

// wireLog records the scripted peers' messages in the order they happened.
type wireLog struct {
	mu     sync.Mutex
	events []wireEvent
	wake   chan struct{}
}

func newWireLog() *wireLog { return &wireLog{wake: make(chan struct{}, 1)} }

// trace is a hostilepeer.Options.Trace that records as peer.
func (l *wireLog) trace(peer string) func(bool, wire.Message) {
	return func(sent bool, m wire.Message) {
		e := wireEvent{peer: peer, sent: sent, id: m.ID()}
		switch m := m.(type) {
		case *wire.Request:
			e.b = block{m.Index, m.Begin}
		case *wire.Cancel:
			e.b = block{m.Index, m.Begin}
		case wire.Reject:
			e.b = block{m.Index, m.Begin}
		case wire.Piece:
			e.b = block{m.Index, m.Begin}
		}
		l.mu.Lock()
		l.events = append(l.events, e)
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

func (l *wireLog) snapshot() []wireEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]wireEvent(nil), l.events...)
}

// waitFor waits until cond holds for the events so far, or fails the test
// after a minute (a bound for a hang, not a measure: each wait is for
// something that takes well under a second).
func (l *wireLog) waitFor(t *testing.T, what string, cond func([]wireEvent) bool) []wireEvent {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		ev := l.snapshot()
		if cond(ev) {
			return ev
		}
		select {
		case <-l.wake:
		case <-deadline:
			t.Fatalf("never saw %s; the scripted peers saw:\n%s", what, formatEvents(ev))
		}
	}
}

func formatEvents(ev []wireEvent) string {
	var s string
	for i, e := range ev {
		if i == 200 {
			return s + fmt.Sprintf("... %d more\n", len(ev)-i)
		}
		dir := "read"
		if e.sent {
			dir = "sent"
		}
		s += fmt.Sprintf("%s %s %v %v\n", e.peer, dir, e.id, e.b)
	}
	return s
}

// blocks is the set of blocks of peer's events with the direction and ID
// given.
func blocks(ev []wireEvent, peer string, sent bool, id wire.MessageID) map[block]bool {
	set := map[block]bool{}
	for _, e := range ev {
		if e.peer == peer && e.sent == sent && e.id == id {
			set[e.b] = true
		}
	}
	return set
}

// running starts s (a swarm from swarmFor) with peers; stop ends it and
// fails the test if Run did.
func running(t *testing.T, s *swarm.Swarm, peers ...netip.AddrPort) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, peers) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-ran; err != nil {
				t.Errorf("swarm: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitDone waits for every piece to be verified (a minute at most).
func waitDone(t *testing.T, s *swarm.Swarm) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(time.Minute):
		t.Fatalf("not complete after a minute: %d pieces missing", s.Stats().Missing)
	}
}

func seeding(c *swarm.Config) { c.Seed = true }

// A peer that unchokes, takes requests and never answers: once its
// requests time out they are cancelled, and a peer that joins afterwards
// is asked for those very blocks and serves them.
func TestSilentPeersRequestsGoElsewhere(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	log := newWireLog()
	silent := hostilepeer.Start(t, tr.hostile(), hostilepeer.Silent,
		hostilepeer.Options{IP: "127.0.0.31", Trace: log.trace("silent")})
	honest := hostilepeer.Start(t, tr.hostile(), hostilepeer.Honest,
		hostilepeer.Options{IP: "127.0.0.32", Trace: log.trace("honest")})
	s, dir := swarmFor(t, tr, newLog().logger(), seeding)
	// Freed after 2 s rather than 20; never dropped, so the timeout alone
	// can free them.
	swarm.SetRequestTimeouts(s, 2*time.Second, time.Hour)
	stop := running(t, s, silent.Addr())

	// Alone, the silent peer holds every request until they time out: the
	// swarm then cancels each of them.
	var asked map[block]bool
	log.waitFor(t, "a cancel of each request the silent peer held", func(ev []wireEvent) bool {
		asked = map[block]bool{}
		for _, e := range ev {
			if e.peer == "silent" && e.id == wire.IDCancel {
				break
			}
			if e.peer == "silent" && e.id == wire.IDRequest {
				asked[e.b] = true
			}
		}
		cancelled := blocks(ev, "silent", false, wire.IDCancel)
		for b := range asked {
			if !cancelled[b] {
				return false
			}
		}
		return len(asked) > 0
	})

	s.AddPeers([]netip.AddrPort{honest.Addr()})
	waitDone(t, s)
	stop()
	sameData(t, tr, dir)
	ev := log.snapshot()
	served := blocks(ev, "honest", true, wire.IDPiece)
	for b := range asked {
		if !served[b] {
			t.Errorf("block %v, timed out at the silent peer, was not served by the other", b)
		}
	}
	if n := len(blocks(ev, "silent", true, wire.IDPiece)); n != 0 {
		t.Fatalf("the silent peer sent %d blocks", n)
	}
	if t.Failed() {
		t.Logf("the scripted peers saw:\n%s", formatEvents(ev))
	}
}

// A BEP 6 peer that rejects every request: each reject frees its block at
// once (with timeouts ruled out, the same block is asked for again, and
// no cancel is ever needed), and a peer that joins serves what was
// rejected.
func TestRejectedBlocksGoElsewhere(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	log := newWireLog()
	rejecting := hostilepeer.Start(t, tr.hostile(), hostilepeer.Honest, hostilepeer.Options{IP: "127.0.0.33",
		Reject: func(uint32, uint32) bool { return true }, Trace: log.trace("rejecting")})
	honest := hostilepeer.Start(t, tr.hostile(), hostilepeer.Honest,
		hostilepeer.Options{IP: "127.0.0.34", Trace: log.trace("honest")})
	s, dir := swarmFor(t, tr, newLog().logger(), seeding)
	swarm.SetRequestTimeouts(s, time.Hour, time.Hour)
	stop := running(t, s, rejecting.Addr())

	// Without the reject freeing it, a block stays in flight at the peer
	// that refused it, and is never asked for again.
	ev := log.waitFor(t, "a block asked for again after the peer rejected it", func(ev []wireEvent) bool {
		rejected := map[block]bool{}
		for _, e := range ev {
			switch {
			case e.sent && e.id == wire.IDReject:
				rejected[e.b] = true
			case !e.sent && e.id == wire.IDRequest && rejected[e.b]:
				return true
			}
		}
		return false
	})
	if c := blocks(ev, "rejecting", false, wire.IDCancel); len(c) > 0 {
		t.Fatalf("the rejecting peer was sent cancels for %v: its rejects did not free the blocks", c)
	}
	rejected := blocks(ev, "rejecting", true, wire.IDReject)

	s.AddPeers([]netip.AddrPort{honest.Addr()})
	waitDone(t, s)
	stop()
	sameData(t, tr, dir)
	ev = log.snapshot()
	served := blocks(ev, "honest", true, wire.IDPiece)
	for b := range rejected {
		if !served[b] {
			t.Errorf("block %v, rejected, was not served by the other peer", b)
		}
	}
	if n := len(blocks(ev, "rejecting", true, wire.IDPiece)); n != 0 {
		t.Fatalf("the rejecting peer sent %d blocks", n)
	}
	if t.Failed() {
		t.Logf("the scripted peers saw:\n%s", formatEvents(ev))
	}
}

// In endgame the blocks a slow peer holds are asked of another too, and
// the first copy to arrive cancels the other request. The slow peer never
// answers and timeouts are ruled out, so only endgame's duplicates can
// complete the download, and only endgame's cancel reaches it.
func TestEndgameCancelsDuplicates(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	log := newWireLog()
	// The slow peer lacks piece 0: it is no seed, so completing does not
	// drop it before the cancels queued for it are sent.
	slow := hostilepeer.Start(t, tr.hostile(), hostilepeer.Silent, hostilepeer.Options{IP: "127.0.0.35",
		Has: func(i int) bool { return i != 0 }, Trace: log.trace("slow")})
	fast := hostilepeer.Start(t, tr.hostile(), hostilepeer.Honest,
		hostilepeer.Options{IP: "127.0.0.36", Trace: log.trace("fast")})
	s, dir := swarmFor(t, tr, newLog().logger(), seeding)
	swarm.SetRequestTimeouts(s, time.Hour, time.Hour)
	stop := running(t, s, slow.Addr())
	log.waitFor(t, "requests at the slow peer", func(ev []wireEvent) bool {
		return len(blocks(ev, "slow", false, wire.IDRequest)) > 0
	})
	s.AddPeers([]netip.AddrPort{fast.Addr()})
	waitDone(t, s)

	// Duplicated: asked of both, served by the fast peer, then cancelled
	// at the slow one (the fast peer read the request before the slow
	// peer read the cancel: the cancel follows the block).
	ev := log.waitFor(t, "a cancel at the slow peer of a block the fast one served", func(ev []wireEvent) bool {
		askedSlow := map[block]bool{}
		askedFast := map[block]bool{}
		for _, e := range ev {
			switch {
			case e.peer == "slow" && !e.sent && e.id == wire.IDRequest:
				askedSlow[e.b] = true
			case e.peer == "fast" && !e.sent && e.id == wire.IDRequest:
				askedFast[e.b] = true
			case e.peer == "slow" && !e.sent && e.id == wire.IDCancel && askedSlow[e.b] && askedFast[e.b]:
				return true
			}
		}
		return false
	})
	stop()
	sameData(t, tr, dir)
	// Every block the slow peer was asked for came from the fast one.
	served := blocks(ev, "fast", true, wire.IDPiece)
	for b := range blocks(ev, "slow", false, wire.IDRequest) {
		if !served[b] {
			t.Errorf("block %v, held by the slow peer, was not served by the fast one", b)
		}
	}
	if t.Failed() {
		t.Logf("the scripted peers saw:\n%s", formatEvents(ev))
	}
}

// While no piece may start (the piece memory is taken) and every block of
// the started pieces is asked of a peer that never answers, a peer with
// nothing to do asks for those blocks too, and each copy that arrives
// cancels the silent peer's request. Timeouts are ruled out, so only that
// can complete the download: without it the other peer idles for good.
func TestBusyBlocksFetchedWhenMemoryFull(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	log := newWireLog()
	// The silent peer lacks piece 0: it is no seed, so completing does not
	// drop it before the cancels queued for it are sent.
	silent := hostilepeer.Start(t, tr.hostile(), hostilepeer.Silent, hostilepeer.Options{IP: "127.0.0.37",
		Has: func(i int) bool { return i != 0 }, Trace: log.trace("silent")})
	honest := hostilepeer.Start(t, tr.hostile(), hostilepeer.Honest,
		hostilepeer.Options{IP: "127.0.0.38", Trace: log.trace("honest")})
	s, dir := swarmFor(t, tr, newLog().logger(), seeding)
	swarm.SetRequestTimeouts(s, time.Hour, time.Hour)
	swarm.SetPieceMemory(s, 0) // the least: four pieces
	stop := running(t, s, silent.Addr())

	// Alone, the silent peer is asked for every block of the four pieces
	// the memory allows, and then for nothing more.
	const held = 4 * pieceLen / (16 << 10)
	ev := log.waitFor(t, "requests for every block of four pieces at the silent peer", func(ev []wireEvent) bool {
		return len(blocks(ev, "silent", false, wire.IDRequest)) >= held
	})
	asked := blocks(ev, "silent", false, wire.IDRequest)
	pieces := map[uint32]bool{}
	for b := range asked {
		pieces[b.index] = true
	}
	if len(pieces) != 4 {
		t.Fatalf("the silent peer was asked for blocks of %d pieces, not the four the memory holds: %v", len(pieces), asked)
	}

	s.AddPeers([]netip.AddrPort{honest.Addr()})
	waitDone(t, s)
	ev = log.waitFor(t, "a cancel at the silent peer of each block it was asked for alone", func(ev []wireEvent) bool {
		cancelled := blocks(ev, "silent", false, wire.IDCancel)
		for b := range asked {
			if !cancelled[b] {
				return false
			}
		}
		return true
	})
	stop()
	sameData(t, tr, dir)
	served := blocks(ev, "honest", true, wire.IDPiece)
	for b := range asked {
		if !served[b] {
			t.Errorf("block %v, held by the silent peer, was not served by the honest one", b)
		}
	}
	if t.Failed() {
		t.Logf("the scripted peers saw:\n%s", formatEvents(ev))
	}
}
