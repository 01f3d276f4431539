package session

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/wire"
)

// The connections incoming peers opened in the metadata phase are handed
// to the swarm when the metadata is complete (swarm.Config.Adopt): such a
// peer need not be reachable at the port it names, or name one at all.
// What the swarm needs of the stream so far is put back in front of it:
// the peer's messages the phase read that tell its state (bitfield, have,
// choke, interest, its extension handshake, ...), re-encoded in order,
// then the bytes read past the last message. The peer has had our
// handshake and our extension handshake; the swarm then sends its own
// extension handshake (BEP 10 lets a later one replace the ids), its
// bitfield or have-none, and unchokes. The peers we dialled are not handed
// over: the swarm dials their addresses again.

// maxKept bounds what is kept of one peer's messages: a bitfield of the
// largest size the phase reads (maxMetaMsgLen) and then some. A peer that
// sends more is not handed over.
const maxKept = 2 * maxMetaMsgLen

// errDetached ends a reader whose connection the swarm takes over.
var errDetached = errors.New("handed to the swarm")

// handover is what an incoming peer's connection needs to be handed over.
type handover struct {
	hs      wire.Handshake // the peer's
	enc     mse.Method
	unwatch func() bool // stops the phase's end from closing the connection
	// detached is set by the loop when the swarm is to take it: the reader
	// then ends without closing it.
	detached atomic.Bool
	// Reader's goroutine only, until it ends:
	r    *wire.Reader
	kept []byte // the peer's messages the swarm needs, re-encoded
	over bool   // more than maxKept: not handed over
}

// keep records m if the swarm needs it.
func (h *handover) keep(m wire.Message) {
	switch m.ID() {
	case wire.IDBitfield, wire.IDHave, wire.IDHaveAll, wire.IDHaveNone, wire.IDChoke, wire.IDUnchoke,
		wire.IDInterested, wire.IDNotInterested, wire.IDPort, wire.IDAllowedFast, wire.IDSuggest:
	case wire.IDExtended:
		if x, ok := m.(*wire.Extended); !ok || x.ExtID != 0 {
			return // ut_metadata: for the phase only
		}
	default:
		return // keep-alives; requests, blocks and rejects of nothing
	}
	if h.over || len(h.kept) > maxKept {
		h.over = true
		return
	}
	h.kept = wire.AppendMessage(h.kept, m)
}

// detach marks the incoming peers to hand over and stops their goroutines
// without closing the connections; run loop only, before the phase's
// context ends. They leave f.conns.
func (f *fetcher) detach() (out []*metaConn) {
	for a, c := range f.conns {
		if !c.incoming || c.hand.unwatch == nil || !c.hand.unwatch() {
			continue
		}
		c.hand.detached.Store(true)
		c.stop()
		// Ends a read under way; the reader checks detached after setting
		// its own deadline, so this one is never overwritten.
		c.conn.SetReadDeadline(time.Unix(1, 0))
		delete(f.conns, a)
		if c.inAsm {
			f.asm.DropPeer(a)
		}
		out = append(out, c)
	}
	return out
}

// adoptable makes the connections detach stopped into the swarm's, once
// their goroutines have ended; a peer whose stream cannot be put back
// together is closed (and its address handed on).
func (f *fetcher) adoptable(detached []*metaConn) []swarm.Handshaken {
	var out []swarm.Handshaken
	for _, c := range detached {
		rest, ok := c.hand.r.Buffered()
		if !ok || c.hand.over {
			f.log.Debug("incoming peer not handed to the swarm: its stream was cut", "peer", c.addr)
			c.conn.Close()
			continue
		}
		c.conn.SetDeadline(time.Time{})
		ahead := append(c.hand.kept, rest...)
		hs := c.hand.hs
		hs.NoFast() // ours did not offer it (phaseHandshake)
		out = append(out, swarm.Handshaken{Conn: &replayConn{Conn: c.conn, r: io.MultiReader(bytes.NewReader(ahead), c.conn)},
			Addr: c.addr, Handshake: hs, Enc: c.hand.enc})
		delete(f.heard, c.addr) // the swarm has the connection: no need to dial it
	}
	return out
}

// replayConn reads what was read ahead before the connection.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// adoptions are the connections the metadata phase leaves for the swarm,
// until Run takes them or the session ends without a swarm.
type adoptions struct {
	mu    sync.Mutex
	conns []swarm.Handshaken
}

func (a *adoptions) put(c []swarm.Handshaken) {
	a.mu.Lock()
	a.conns = append(a.conns, c...)
	a.mu.Unlock()
}

func (a *adoptions) take() []swarm.Handshaken {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.conns
	a.conns = nil
	return c
}

// close closes the connections no swarm took.
func (a *adoptions) close() {
	for _, h := range a.take() {
		h.Conn.Close()
	}
}
