package mse

import (
	"bufio"
	"crypto/rc4"
	"net"
	"sync"
)

// writeChunk is the buffer writes are encrypted into (the caller's bytes
// are never changed in place), and the most sent per system call.
const writeChunk = 64 << 10

// conn is the payload stream after a handshake.
type conn struct {
	net.Conn
	pending []byte      // read ahead during the handshake, already decrypted
	dec     *rc4.Cipher // nil for plaintext
	enc     *rc4.Cipher // nil for plaintext

	wmu  sync.Mutex // keeps concurrent Writes in cipher order
	wbuf []byte
}

// stream wraps c for the payload: first pending (already decrypted), then
// what br read past the handshake, then c. With plaintext and nothing read
// ahead it is c itself.
func stream(c net.Conn, br *bufio.Reader, m Method, enc, dec *rc4.Cipher, pending []byte) net.Conn {
	ahead, _ := br.Peek(br.Buffered())
	at := len(pending)
	pending = append(pending, ahead...)
	if m == RC4 {
		dec.XORKeyStream(pending[at:], pending[at:])
	} else {
		enc, dec = nil, nil
	}
	if len(pending) == 0 && enc == nil {
		return c
	}
	return &conn{Conn: c, pending: pending, enc: enc, dec: dec}
}

func (c *conn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil // up to 64 KiB of IA
		}
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if c.dec != nil {
		c.dec.XORKeyStream(p[:n], p[:n])
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if c.enc == nil {
		return c.Conn.Write(p)
	}
	bufs := net.Buffers{p}
	n, err := c.WriteBuffers(&bufs)
	return int(n), err
}

// WriteBuffers writes and consumes bufs in as few system calls as it can:
// net.Buffers.WriteTo uses writev only on net's own connections, and on
// any other it writes each buffer by itself.
func (c *conn) WriteBuffers(bufs *net.Buffers) (int64, error) {
	if c.enc == nil {
		if bw, ok := c.Conn.(interface {
			WriteBuffers(*net.Buffers) (int64, error)
		}); ok {
			return bw.WriteBuffers(bufs) // a wrapper of its own that keeps writev
		}
		return bufs.WriteTo(c.Conn)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wbuf == nil {
		c.wbuf = make([]byte, writeChunk)
	}
	var n int64
	fill := 0
	flush := func() error {
		m, err := c.Conn.Write(c.wbuf[:fill])
		n += int64(m)
		fill = 0
		// On an error the cipher has moved past bytes the peer never
		// got: the stream cannot go on, and the caller closes it.
		return err
	}
	for _, b := range *bufs {
		for len(b) > 0 {
			k := min(len(b), writeChunk-fill)
			c.enc.XORKeyStream(c.wbuf[fill:fill+k], b[:k])
			fill += k
			b = b[k:]
			if fill == writeChunk {
				if err := flush(); err != nil {
					return n, err
				}
			}
		}
	}
	*bufs = nil
	if fill > 0 {
		return n, flush()
	}
	return n, nil
}
