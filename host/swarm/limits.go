package swarm

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Connection limits. Every socket the swarm holds, incoming or outgoing,
// handshaking or established, takes one of MaxPeers+MaxHalfOpen slots from
// the moment it is accepted or dialled until it is closed: that sum bounds
// the swarm's peer sockets, so with the defaults (60+20) the process holds
// at most 80 peer sockets, plus the listener and the one just-accepted
// socket that is being refused. An incoming connection also holds one of
// MaxHalfOpen slots until its handshake is done; a connection over either
// limit is closed as soon as it is accepted rather than queued, so a flood
// costs a moment of work per connection and no descriptor.
const (
	DefaultMaxPeers    = 60 // Config.MaxPeers
	DefaultMaxHalfOpen = 20 // Config.MaxHalfOpen
)

// Timeouts are the deadlines given to peers; a zero field takes its
// default.
type Timeouts struct {
	// FirstBytes is how long an incoming connection may stay silent
	// before its first byte (default 5 s): most of a flood never sends
	// one, and an honest peer opens with its handshake at once.
	FirstBytes time.Duration
	// Handshake bounds the whole handshake, MSE included, in either
	// direction (default 10 s, libtorrent's handshake_timeout): a peer
	// sending one byte a second holds a slot no longer than this.
	Handshake time.Duration
	// Idle drops an established peer from which nothing, keep-alives
	// included, arrived for this long (default 3 min): BEP 3 peers send a
	// keep-alive every 2 min, we send one after 90 s without writing.
	Idle time.Duration
	// Unused drops a peer when neither side has wanted anything of the
	// other for this long (default 5 min; libtorrent's inactivity timeout
	// is 10): one that only sends keep-alives would hold its slot for
	// ever. At the peer limit a new connection takes the slot of a peer
	// unused for a tenth of it.
	Unused time.Duration
}

func (t *Timeouts) setDefaults() {
	if t.FirstBytes == 0 {
		t.FirstBytes = 5 * time.Second
	}
	if t.Handshake == 0 {
		t.Handshake = 10 * time.Second
	}
	if t.Idle == 0 {
		t.Idle = 3 * time.Minute
	}
	if t.Unused == 0 {
		t.Unused = 5 * time.Minute
	}
}

// slots is a semaphore that never waits: over the limit, take fails.
type slots chan struct{}

func (s slots) take() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s slots) give() { <-s }

func (s slots) free() int { return cap(s) - len(s) }

// errNoSlot: every connection slot is taken.
var errNoSlot = errors.New("connection limit reached")

// sock is a peer socket holding one connection slot, given back when it is
// closed, by whichever path closes it.
type sock struct {
	net.Conn
	slots    slots
	once     sync.Once
	hsExtend time.Time // set while the first bytes are awaited: the handshake's deadline
}

// newSock takes a slot for a socket about to be opened; nil when none is
// free.
func (cn *connector) newSock() *sock {
	if !cn.sockets.take() {
		return nil
	}
	return &sock{slots: cn.sockets}
}

// release gives the slot back for a socket that was never opened.
func (c *sock) release() { c.once.Do(c.slots.give) }

func (c *sock) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

func (c *sock) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.hsExtend.IsZero() {
		// The peer has begun: it gets the rest of the handshake's time.
		c.Conn.SetReadDeadline(c.hsExtend)
		c.hsExtend = time.Time{}
	}
	return n, err
}

// WriteBuffers keeps writev: net.Buffers uses it only on net's own types.
func (c *sock) WriteBuffers(b *net.Buffers) (int64, error) { return b.WriteTo(c.Conn) }

// acceptRetry is how long to wait before accepting again after err, or 0
// when err ends the listener. Running out of descriptors or buffers
// passes (as connections close), so it is retried with a growing pause as
// net/http does, rather than spinning on the connection still queued.
func acceptRetry(err error, last time.Duration) time.Duration {
	var ne net.Error
	if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) &&
		!errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.ENOMEM) &&
		!(errors.As(err, &ne) && ne.Timeout()) {
		return 0
	}
	return min(max(2*last, 5*time.Millisecond), time.Second)
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
