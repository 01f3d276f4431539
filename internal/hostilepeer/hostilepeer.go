// Package hostilepeer runs scripted BitTorrent peers on loopback for tests:
// an honest seeder of known data, and peers that each break the protocol in
// one way an attacker or a broken client might. Each peer can have a
// loopback address of its own (127.0.0.2, ...), so a client that bans by IP
// bans that peer and no other.
package hostilepeer

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
)

// Torrent is what a scripted peer knows of the torrent it pretends to
// share.
type Torrent struct {
	InfoHash    [20]byte
	NumPieces   int
	PieceLength int64
	Length      int64
	// Data is the torrent's content; only Honest reads it.
	Data io.ReaderAt
	// MetadataSize is the size of the info dictionary, which
	// WrongMetadata claims to have (metadata.go).
	MetadataSize int
}

func (t Torrent) pieceSize(i int) int64 {
	return min(t.PieceLength, t.Length-int64(i)*t.PieceLength)
}

// Behaviour is what a peer does once a client connects to it.
type Behaviour int

const (
	// Honest has every piece and answers each request with Torrent.Data.
	Honest Behaviour = iota
	// WrongData has every piece and answers each request with random
	// bytes of the right length.
	WrongData
	// OversizedFrame sends a message header announcing 64 MiB.
	OversizedFrame
	// LongBitfield sends a bitfield 16 bytes longer than the torrent's
	// piece count allows.
	LongBitfield
	// HaveOutOfRange announces a piece index past the last piece.
	HaveOutOfRange
	// UnrequestedBlocks announces no piece and sends blocks nobody asked
	// for.
	UnrequestedBlocks
	// RequestFlood asks for every block of the torrent, over and over,
	// without waiting for answers.
	RequestFlood
	// WrongInfoHash answers the handshake with another torrent's
	// info-hash.
	WrongInfoHash
	// SlowHandshake sends its handshake one byte a second.
	SlowHandshake
	// HangUp reads the handshake and closes the connection after
	// Options.Delay without answering.
	HangUp
	// Silent has every piece and unchokes, reads every request and
	// cancel, and never answers one: a peer that stopped sending.
	Silent
	// WrongMetadata speaks BEP 10 and ut_metadata, announces the
	// torrent's metadata_size and answers each request with random bytes:
	// the first at once, each later one after Options.Delay.
	WrongMetadata
	// OversizedMetadata announces a metadata_size one byte over the cap.
	OversizedMetadata
)

var names = [...]string{"honest", "wrong data", "oversized frame", "bitfield too long", "have out of range",
	"unrequested blocks", "request flood", "wrong info-hash", "slow handshake", "hang up", "silent", "wrong metadata",
	"oversized metadata"}

func (b Behaviour) String() string {
	if int(b) < len(names) {
		return names[b]
	}
	return fmt.Sprintf("behaviour %d", int(b))
}

// Options adjust a peer.
type Options struct {
	// IP is the loopback address the peer listens on and connects from;
	// "" is 127.0.0.1.
	IP string
	// Delay: Honest and WrongData wait this long before each block;
	// HangUp waits this long before hanging up.
	Delay time.Duration
	// Reject, for Honest and WrongData, picks requests the peer refuses
	// with a BEP 6 reject (the peer then announces BEP 6).
	Reject func(index, begin uint32) bool
	// Has, for Honest, WrongData and Silent, says which pieces the peer
	// announces (and serves); nil is every piece.
	Has func(index int) bool
	// Trace, for Honest, WrongData and Silent, sees each message the
	// peer reads (sent false) and each it writes after the handshake
	// (sent true), in order, from the connection's goroutine, before it is
	// answered or written: what a test records of it happened. m is valid
	// only during the call.
	Trace func(sent bool, m wire.Message)
}

// Peer is a scripted peer listening on loopback.
type Peer struct {
	tr      Torrent
	b       Behaviour
	opt     Options
	ln      net.Listener
	id      [20]byte
	conns   atomic.Int32
	dropped atomic.Int32
	metaOut atomic.Int32 // ut_metadata pieces sent
	stop    chan struct{}
	mu      sync.Mutex
	open    map[net.Conn]bool
	ids     []string // PeerIDs
	wg      sync.WaitGroup
}

// connLife bounds every connection, so a peer a client forgot about still
// ends.
const connLife = 3 * time.Minute

// peers numbers the peers started, for their peer IDs.
var peers atomic.Uint32

// Start listens and serves every connection with behaviour b until the
// test ends.
func Start(t testing.TB, tr Torrent, b Behaviour, opt Options) *Peer {
	t.Helper()
	if opt.IP == "" {
		opt.IP = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(opt.IP, "0"))
	if err != nil {
		t.Fatalf("hostile peer (%v): %v", b, err)
	}
	p := &Peer{tr: tr, b: b, opt: opt, ln: ln, stop: make(chan struct{}), open: make(map[net.Conn]bool)}
	// Each peer has its own peer ID: a client refuses a second connection
	// to one it already has. The port alone is not enough: peers on
	// distinct IPs may get the same one.
	copy(p.id[:], fmt.Sprintf("-HP0000-%06d%06d", peers.Add(1)%1e6, p.Addr().Port()))
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

// Addr is where the peer listens.
func (p *Peer) Addr() netip.AddrPort { return netip.MustParseAddrPort(p.ln.Addr().String()) }

// Conns is how many connections the peer has accepted.
func (p *Peer) Conns() int { return int(p.conns.Load()) }

// PeerIDs are the peer IDs of the handshakes it answered, in order (not
// kept by HangUp, SlowHandshake and the metadata behaviours): a test tells
// a client's own connections from those of peers it passed the address to.
func (p *Peer) PeerIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ids)
}

// Dropped is how many of its connections the other side ended (an EOF or
// a reset), as opposed to the peer hanging up or the test stopping it.
func (p *Peer) Dropped() int { return int(p.dropped.Load()) }

// DroppedLine matches the host's debug log line that ends or refuses a
// connection with p: "peer gone", "dropping peer", "dial failed" or
// "banning peer", followed by its address or its IP.
func (p *Peer) DroppedLine() *regexp.Regexp {
	return regexp.MustCompile(`(peer gone|dropping peer|dial failed|banning peer): (peer=` +
		regexp.QuoteMeta(p.Addr().String()) + `|ip=` + regexp.QuoteMeta(p.Addr().Addr().String()) + ` )`)
}

func (p *Peer) close() {
	close(p.stop)
	p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Peer) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		p.mu.Lock()
		p.open[c] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			c.SetDeadline(time.Now().Add(connLife))
			err := p.serve(c)
			select {
			case <-p.stop:
			default:
				if droppedBy(err) {
					p.dropped.Add(1)
				}
			}
			c.Close()
			p.mu.Lock()
			delete(p.open, c)
			p.mu.Unlock()
		}()
	}
}

// droppedBy says err means the other side closed the connection.
func droppedBy(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// sleep waits d, or less if the peer stops; it says whether to go on.
func (p *Peer) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-p.stop:
		return false
	}
}

// Connect dials to from the peer's IP and sends a BitTorrent handshake for
// the peer's torrent; answered says whether a handshake came back. A
// connection the other side closes at once is answered=false, err=nil.
func (p *Peer) Connect(to netip.AddrPort) (answered bool, err error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(p.opt.IP)}}
	c, err := d.Dial("tcp", to.String())
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	h := wire.NewHandshake(p.tr.InfoHash, p.id)
	if err := wire.WriteHandshake(c, h); err != nil {
		if droppedBy(err) {
			return false, nil
		}
		return false, err
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		if droppedBy(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// handshake reads the client's handshake and answers it; fast announces
// BEP 6. Only BEP 6 is announced: the peers speak no extensions.
func (p *Peer) handshake(c net.Conn, infoHash [20]byte, fast bool) error {
	theirs, err := wire.ReadHandshake(c)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ids = append(p.ids, string(theirs.PeerID[:]))
	p.mu.Unlock()
	h := wire.Handshake{InfoHash: infoHash, PeerID: p.id}
	if fast {
		h.Reserved[7] |= 0x04
	}
	return wire.WriteHandshake(c, h)
}

func (p *Peer) serve(c net.Conn) error {
	switch p.b {
	case WrongInfoHash:
		other := p.tr.InfoHash
		other[0] ^= 0xff
		if err := p.handshake(c, other, false); err != nil {
			return err
		}
		return drain(c)
	case SlowHandshake:
		return p.slowHandshake(c)
	case HangUp:
		if _, err := wire.ReadHandshake(c); err != nil {
			return err
		}
		p.sleep(p.opt.Delay)
		return nil
	case WrongMetadata, OversizedMetadata:
		return p.metadata(c, false)
	}
	if err := p.handshake(c, p.tr.InfoHash, p.opt.Reject != nil); err != nil {
		return err
	}
	switch p.b {
	case Honest, WrongData, Silent:
		return p.seed(c)
	case OversizedFrame:
		// A piece message of 64 MiB: the length prefix and the ID only.
		if _, err := c.Write([]byte{0x04, 0, 0, 9, byte(wire.IDPiece)}); err != nil {
			return err
		}
	case LongBitfield:
		bits := make([]byte, (p.tr.NumPieces+7)/8+16)
		for i := range bits {
			bits[i] = 0xff
		}
		if _, err := c.Write(wire.AppendMessage(nil, wire.Bitfield{Bits: bits})); err != nil {
			return err
		}
	case HaveOutOfRange:
		if _, err := c.Write(wire.AppendMessage(nil, wire.Have{Index: uint32(p.tr.NumPieces + 7)})); err != nil {
			return err
		}
	case UnrequestedBlocks:
		return p.unrequested(c)
	case RequestFlood:
		return p.flood(c)
	}
	return drain(c)
}

// drain reads whatever comes until the connection ends.
func drain(c net.Conn) error {
	r := wire.NewReader(c, 4<<20)
	for {
		if _, err := r.Next(); err != nil {
			return err
		}
	}
}

func (p *Peer) slowHandshake(c net.Conn) error {
	if _, err := wire.ReadHandshake(c); err != nil {
		return err
	}
	var b [68]byte
	b[0] = byte(len(wire.ProtocolName))
	n := 1 + copy(b[1:], wire.ProtocolName) + 8
	n += copy(b[n:], p.tr.InfoHash[:])
	copy(b[n:], p.id[:])
	for i := range b {
		if _, err := c.Write(b[i : i+1]); err != nil {
			return err
		}
		if !p.sleep(time.Second) {
			return nil
		}
	}
	return drain(c)
}

// seed announces every piece, unchokes, and answers requests: with the
// torrent's data (Honest), with random bytes (WrongData) or not at all
// (Silent).
func (p *Peer) seed(c net.Conn) error {
	bits := make([]byte, (p.tr.NumPieces+7)/8)
	for i := range p.tr.NumPieces {
		if p.has(i) {
			bits[i/8] |= 0x80 >> (i % 8)
		}
	}
	if err := p.write(c, wire.Bitfield{Bits: bits}, wire.Unchoke{}); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	r := wire.NewReader(c, 4<<20)
	for {
		m, err := r.Next()
		if err != nil {
			return err
		}
		if p.opt.Trace != nil {
			p.opt.Trace(false, m)
		}
		req, ok := m.(*wire.Request)
		if !ok || p.b == Silent {
			continue
		}
		if int(req.Index) >= p.tr.NumPieces || int64(req.Begin)+int64(req.Length) > p.tr.pieceSize(int(req.Index)) ||
			!p.has(int(req.Index)) {
			continue
		}
		if p.opt.Reject != nil && p.opt.Reject(req.Index, req.Begin) {
			if err := p.write(c, wire.Reject(*req)); err != nil {
				return err
			}
			continue
		}
		block := make([]byte, req.Length)
		if p.b == WrongData {
			for i := range block {
				block[i] = byte(rng.Uint32())
			}
		} else if _, err := p.tr.Data.ReadAt(block, int64(req.Index)*p.tr.PieceLength+int64(req.Begin)); err != nil {
			return fmt.Errorf("read block: %w", err)
		}
		if p.opt.Delay > 0 && !p.sleep(p.opt.Delay) {
			return nil
		}
		if err := p.write(c, wire.Piece{Index: req.Index, Begin: req.Begin, Data: block}); err != nil {
			return err
		}
	}
}

func (p *Peer) has(i int) bool { return p.opt.Has == nil || p.opt.Has(i) }

// write sends msgs in one write, each shown to Options.Trace first.
func (p *Peer) write(c net.Conn, msgs ...wire.Message) error {
	var b []byte
	for _, m := range msgs {
		if p.opt.Trace != nil {
			p.opt.Trace(true, m)
		}
		b = wire.AppendMessage(b, m)
	}
	_, err := c.Write(b)
	return err
}

// unrequested unchokes, then sends blocks of random pieces, up to one per
// piece, that the client never asked for: it has announced no piece.
func (p *Peer) unrequested(c net.Conn) error {
	if _, err := c.Write(wire.AppendMessage(nil, wire.Unchoke{})); err != nil {
		return err
	}
	block := make([]byte, min(16<<10, p.tr.Length))
	for i := range p.tr.NumPieces {
		n := min(int64(len(block)), p.tr.pieceSize(i))
		if _, err := c.Write(wire.AppendMessage(nil, wire.Piece{Index: uint32(i), Data: block[:n]})); err != nil {
			return err
		}
	}
	return drain(c)
}

// flood asks for every block of the torrent over and over, in large
// writes, while reading (and ignoring) what comes back, until the
// connection ends or it has sent floodRequests.
func (p *Peer) flood(c net.Conn) error {
	read := make(chan error, 1)
	go func() { read <- drain(c) }()
	var batch []byte
	for sent := 0; sent < floodRequests; {
		for i := range p.tr.NumPieces {
			size := p.tr.pieceSize(i)
			for begin := int64(0); begin < size; begin += 16 << 10 {
				n := min(16<<10, size-begin)
				batch = wire.AppendMessage(batch, wire.Request{Index: uint32(i), Begin: uint32(begin), Length: uint32(n)})
				sent++
			}
			if len(batch) < 64<<10 && sent < floodRequests {
				continue
			}
			if _, err := c.Write(batch); err != nil {
				c.Close()
				<-read
				return err
			}
			batch = batch[:0]
		}
	}
	return <-read
}

// floodRequests bounds a flood: 3.4 MB of requests.
const floodRequests = 200_000
