package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/torrent-dev/torrent/host/ratelimit"
	"github.com/torrent-dev/torrent/host/wire"
)

// inMsg is one message from a peer's reader, copied out of the reader's
// buffer into one flat value (no interface, no allocation but the
// block's), or the error that ended the connection.
type inMsg struct {
	p                    *peer
	id                   wire.MessageID
	index, begin, length uint32 // the fields of Have, Request, Cancel, Reject, Piece, ...
	extID                uint8  // Extended
	block                []byte // Piece data, from blockPool
	bytes                []byte // Bitfield bits or Extended payload (copied)
	err                  error
}

func (m inMsg) release() {
	if m.block != nil {
		putBlock(m.block)
	}
}

var blockPool = sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}

func getBlock(n int) []byte {
	if n > blockSize {
		return make([]byte, n)
	}
	return (*blockPool.Get().(*[]byte))[:n]
}

func putBlock(b []byte) {
	if cap(b) == blockSize {
		b = b[:blockSize]
		blockPool.Put(&b)
	}
}

// peerReader is a peer's reading goroutine: it decodes messages, copies
// them out of the read buffer and hands them to the run loop in order.
type peerReader struct {
	p      *peer // only to tag messages: never read here
	conn   net.Conn
	maxLen int
	idle   time.Duration // no message for this long ends the connection
	lim    *ratelimit.Limiter
	inbox  chan<- inMsg
}

func (r *peerReader) run(ctx context.Context) {
	wr := wire.NewReader(r.conn, r.maxLen)
	var deadline time.Time
	idle := r.idle
	for {
		// Moved on at most every idle/16, not on every message.
		if now := time.Now(); now.Add(idle - idle/16).After(deadline) {
			deadline = now.Add(idle)
			r.conn.SetReadDeadline(deadline)
		}
		m, err := wr.Next()
		var in inMsg
		if err != nil {
			in = inMsg{p: r.p, err: readErr(err)}
		} else {
			in = copyMsg(r.p, m)
		}
		if b := in.block; b != nil {
			if err := r.lim.Wait(ctx, len(b)); err != nil {
				in.release()
				return
			}
		}
		select {
		case r.inbox <- in:
		case <-ctx.Done():
			in.release()
			return
		}
		if err != nil {
			return
		}
	}
}

// readErr marks what the peer sent wrong (an oversized or malformed
// message) as a protocol violation, apart from the connection ending or
// timing out, so that the address book backs such a peer off.
func readErr(err error) error {
	var op *net.OpError
	var errno syscall.Errno
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &op), errors.As(err, &errno):
		return err
	}
	return fmt.Errorf("%w: %w", errProtocol, err)
}

// copyMsg detaches a message from the reader's buffer.
func copyMsg(p *peer, m wire.Message) inMsg {
	in := inMsg{p: p, id: m.ID()}
	switch m := m.(type) {
	case *wire.Piece:
		in.block = getBlock(len(m.Data))
		copy(in.block, m.Data)
		in.index, in.begin = m.Index, m.Begin
	case *wire.Bitfield:
		in.bytes = append([]byte(nil), m.Bits...)
	case *wire.Extended:
		in.bytes = append([]byte(nil), m.Payload...)
		in.extID = m.ExtID
	case *wire.Have:
		in.index = m.Index
	case *wire.Port:
		in.index = uint32(m.Port)
	case *wire.Suggest:
		in.index = m.Index
	case *wire.AllowedFast:
		in.index = m.Index
	case *wire.Request:
		in.index, in.begin, in.length = m.Index, m.Begin, m.Length
	case *wire.Cancel:
		in.index, in.begin, in.length = m.Index, m.Begin, m.Length
	case *wire.Reject:
		in.index, in.begin, in.length = m.Index, m.Begin, m.Length
	}
	// The rest carry nothing the swarm uses.
	return in
}
