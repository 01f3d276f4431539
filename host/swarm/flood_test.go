package swarm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/pick"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// listening runs a swarm (a leecher with nothing yet) that accepts on ln
// until the test ends.
func listening(t *testing.T, tr torrent, ln net.Listener, log hclog.Logger, set func(*swarm.Config)) *swarm.Swarm {
	s, _ := listeningStop(t, tr, ln, log, set)
	return s
}

// listeningStop is listening, with a stop that ends Run and waits for it
// (up to 30 s, then it fails the test).
func listeningStop(t *testing.T, tr torrent, ln net.Listener, log hclog.Logger, set func(*swarm.Config)) (*swarm.Swarm, func()) {
	t.Helper()
	st, err := storage.Open(t.TempDir(), tr.layout)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pm := pick.Start(ctx, pick.Config{Torrent: sdk.Torrent{NumPieces: numPieces, PieceLength: pieceLen, TotalLength: int64(len(tr.data))}, Have: bitfield.New(numPieces)})
	var id [20]byte
	copy(id[:], "-TZ0100-listener0000")
	cfg := swarm.Config{InfoHash: tr.infoHash, PeerID: id, NumPieces: numPieces, PieceLength: pieceLen,
		TotalLength: int64(len(tr.data)), Have: bitfield.New(numPieces), Storage: st, Picker: pm,
		Listener: ln, Logger: log, Seed: true}
	set(&cfg)
	s := swarm.New(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("swarm: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("swarm still running 30 s after it was stopped")
			}
			pm.Close()
			st.Close()
		})
	}
	t.Cleanup(stop)
	return s, stop
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dialTo(t *testing.T, a net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer waits up to d for the other side to close c (EOF or
// reset), discarding whatever it sends first.
func closedByPeer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// heldOpen: nothing closed c within d.
func heldOpen(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func handshakeBytes(tr torrent, id string) []byte {
	var b bytes.Buffer
	var pid [20]byte
	copy(pid[:], id)
	wire.WriteHandshake(&b, wire.NewHandshake(tr.infoHash, pid))
	return b.Bytes()
}

// Incoming connections over MaxHalfOpen are closed at once, not queued,
// and those held are counted; a freed slot takes a new connection.
func TestHalfOpenLimitClosesExtraConnections(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	s := listening(t, tr, ln, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.MaxHalfOpen = 3
		c.Timeouts = swarm.Timeouts{FirstBytes: time.Hour, Handshake: time.Hour}
	})
	var held []net.Conn
	for range 3 {
		held = append(held, dialTo(t, ln.Addr()))
	}
	// The listener takes connections in order: once a 4th is closed, the
	// first three hold every half-open slot.
	extra := dialTo(t, ln.Addr())
	if !closedByPeer(extra, 30*time.Second) {
		t.Fatal("a 4th silent connection was kept open with MaxHalfOpen 3")
	}
	for i, c := range held {
		if !heldOpen(c, 300*time.Millisecond) {
			t.Fatalf("silent connection %d was closed within the half-open limit", i)
		}
	}
	held[0].Close()
	// The slot comes back when the swarm sees the close; until then a new
	// connection may still be refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := dialTo(t, ln.Addr())
		if heldOpen(c, 300*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection was held after a half-open one closed")
		}
	}
	waitStats(t, s, func(st swarm.Stats) bool { return st.Refused >= 1 })
}

func waitStats(t *testing.T, s *swarm.Swarm, ok func(swarm.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never got there: %+v", s.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A connection that never speaks is closed after Timeouts.FirstBytes, long
// before the handshake's own deadline.
func TestSilentConnectionClosedAfterFirstBytesTimeout(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	listening(t, tr, ln, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.Timeouts = swarm.Timeouts{FirstBytes: 200 * time.Millisecond, Handshake: time.Hour}
	})
	c := dialTo(t, ln.Addr())
	if !closedByPeer(c, 30*time.Second) {
		t.Fatal("a silent connection was still open 30 s after a 200 ms first-bytes timeout")
	}
}

// slowHandshake sends a handshake byte by byte, every gap; it reports
// whether the whole handshake went out and the swarm answered with its own.
func slowHandshake(c net.Conn, hs []byte, gap time.Duration) bool {
	for i := range hs {
		if _, err := c.Write(hs[i : i+1]); err != nil {
			return false
		}
		time.Sleep(gap)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := wire.ReadHandshake(c)
	return err == nil
}

// Once a peer has begun its handshake it has the whole Timeouts.Handshake
// for it, however short FirstBytes is; a peer that takes longer is cut.
func TestSlowHandshakeDeadline(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	listening(t, tr, ln, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.Timeouts = swarm.Timeouts{FirstBytes: 100 * time.Millisecond, Handshake: 5 * time.Second}
	})
	hs := handshakeBytes(tr, "-XX0000-slowbutfine0")
	// 68 bytes at 3 ms: well past FirstBytes, well within Handshake.
	if !slowHandshake(dialTo(t, ln.Addr()), hs, 3*time.Millisecond) {
		t.Fatal("a handshake sent over ~0.2 s was cut, though Handshake is 5 s")
	}
	// 68 bytes at 300 ms would take 20 s.
	if slowHandshake(dialTo(t, ln.Addr()), handshakeBytes(tr, "-XX0000-tooslow00000"), 300*time.Millisecond) {
		t.Fatal("a handshake sent over 20 s was accepted, though Handshake is 5 s")
	}
}

// An established peer that sends nothing, not even keep-alives, is dropped
// after Timeouts.Idle; one that sends keep-alives is kept.
func TestIdlePeerDropped(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	s := listening(t, tr, ln, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.Timeouts = swarm.Timeouts{Idle: 2 * time.Second}
	})
	idle := dialTo(t, ln.Addr())
	idle.Write(handshakeBytes(tr, "-XX0000-idle00000000"))
	alive := dialTo(t, ln.Addr())
	alive.Write(handshakeBytes(tr, "-XX0000-alive0000000"))
	for _, c := range []net.Conn{idle, alive} {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := wire.ReadHandshake(c); err != nil {
			t.Fatalf("no handshake back: %v", err)
		}
	}
	go io.Copy(io.Discard, alive)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				alive.Write([]byte{0, 0, 0, 0}) // keep-alive
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	if !closedByPeer(idle, 30*time.Second) {
		t.Fatal("a silent peer was kept 30 s with a 2 s idle timeout")
	}
	time.Sleep(4 * time.Second) // two idle timeouts more
	waitStats(t, s, func(st swarm.Stats) bool {
		return len(st.Peers) == 1 && st.Peers[0].Addr == alive.LocalAddr().String()
	})
}

// Stopping the swarm closes connections still in their handshake rather
// than waiting out their deadline.
func TestStopClosesHandshakingConnections(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := listen(t)
	_, stop := listeningStop(t, tr, ln, hclog.NewNullLogger(), func(c *swarm.Config) {
		c.Timeouts = swarm.Timeouts{FirstBytes: time.Hour, Handshake: time.Hour}
	})
	silent := dialTo(t, ln.Addr())
	begun := dialTo(t, ln.Addr())
	begun.Write(handshakeBytes(tr, "-XX0000-halfway00000")[:30])
	for _, c := range []net.Conn{silent, begun} {
		if !heldOpen(c, 300*time.Millisecond) {
			t.Fatal("a connection in its handshake was closed before the stop")
		}
	}
	stop()
	if t.Failed() {
		return
	}
	for _, c := range []net.Conn{silent, begun} {
		if !closedByPeer(c, 5*time.Second) {
			t.Fatal("a connection in its handshake outlived the swarm")
		}
	}
}

// emfileListener fails its first n Accepts as a process out of
// descriptors does.
type emfileListener struct {
	net.Listener
	mu sync.Mutex
	n  int
}

func (l *emfileListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.n > 0
	l.n--
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Running out of descriptors pauses accepting, it does not end it: a peer
// that connects afterwards is still handshaken.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln := &emfileListener{Listener: listen(t), n: 5}
	var log bytes.Buffer
	var mu sync.Mutex
	logger := hclog.New(&hclog.LoggerOptions{Output: lockedWriter{&mu, &log}, Level: hclog.Debug})
	listening(t, tr, ln, logger, func(*swarm.Config) {})
	c := dialTo(t, ln.Addr())
	c.Write(handshakeBytes(tr, "-XX0000-afteremfile0"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := wire.ReadHandshake(c); err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no handshake after EMFILE from accept: %v\n%s", err, log.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(log.String(), "accept failed, retrying"); n != 5 {
		t.Fatalf("%d retries logged, want 5:\n%s", n, log.String())
	}
}
