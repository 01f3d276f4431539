package swarm_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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

const (
	pieceLen  = 32 << 10
	numPieces = 40
)

type torrent struct {
	data     []byte
	layout   storage.Layout
	infoHash [20]byte
}

func newTorrent() torrent {
	data := make([]byte, numPieces*pieceLen-1000)
	rand.NewChaCha8([32]byte{7}).Read(data)
	tr := torrent{data: data, layout: storage.Layout{PieceLength: pieceLen, Files: []storage.File{{Path: "f", Length: int64(len(data))}}}}
	for off := 0; off < len(data); off += pieceLen {
		tr.layout.Hashes = append(tr.layout.Hashes, sha1.Sum(data[off:min(off+pieceLen, len(data))]))
	}
	tr.infoHash = sha1.Sum(data[:100])
	return tr
}

// leech runs our swarm as a leecher of tr connected to peers; it returns
// the swarm once it is done (or fails the test).
func leech(t *testing.T, tr torrent, peers ...netip.AddrPort) (*swarm.Swarm, string) {
	return leechLog(t, tr, hclog.NewNullLogger(), peers...)
}

func leechLog(t *testing.T, tr torrent, log hclog.Logger, peers ...netip.AddrPort) (*swarm.Swarm, string) {
	t.Helper()
	return leechWith(t, tr, log, func(*swarm.Config) {}, peers...)
}

// leechWith is leechLog with the swarm's configuration adjusted by set.
func leechWith(t *testing.T, tr torrent, log hclog.Logger, set func(*swarm.Config), peers ...netip.AddrPort) (*swarm.Swarm, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := storage.Open(dir, tr.layout)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pm := pick.Start(ctx, pick.Config{Torrent: sdk.Torrent{NumPieces: numPieces, PieceLength: pieceLen, TotalLength: int64(len(tr.data))}, Have: bitfield.New(numPieces)})
	defer pm.Close()
	var id [20]byte
	copy(id[:], "-TZ0100-leecher00000")
	cfg := swarm.Config{InfoHash: tr.infoHash, PeerID: id, NumPieces: numPieces, PieceLength: pieceLen,
		TotalLength: int64(len(tr.data)), Have: bitfield.New(numPieces), Storage: st, Picker: pm, Logger: log}
	set(&cfg)
	s := swarm.New(cfg)
	if err := s.Run(ctx, peers); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("not complete in time: %d pieces missing", s.Stats().Missing)
	}
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil || !bytes.Equal(got, tr.data) {
		t.Fatalf("downloaded data differs from the torrent's (%v)", err)
	}
	return s, dir
}

// fakeSeeder is a scripted peer: it serves tr, but corrupts every block
// when evil is set. It counts connections so a test can see redials.
type fakeSeeder struct {
	ln    net.Listener
	tr    torrent
	evil  bool
	delay time.Duration // per block
	conns atomic.Int32
	wg    sync.WaitGroup
}

func startFake(t *testing.T, tr torrent, evil bool) *fakeSeeder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSeeder{ln: ln, tr: tr, evil: evil}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			f.wg.Add(1)
			go func() { defer f.wg.Done(); defer c.Close(); f.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeSeeder) addr() netip.AddrPort { return netip.MustParseAddrPort(f.ln.Addr().String()) }

func (f *fakeSeeder) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// Each fake has its own peer ID: the swarm refuses a second
	// connection to the same ID.
	var id [20]byte
	copy(id[:], fmt.Sprintf("-XX0000-%012d", f.ln.Addr().(*net.TCPAddr).Port))
	if _, err := wire.ReadHandshake(c); err != nil {
		return
	}
	h := wire.NewHandshake(f.tr.infoHash, id)
	h.Reserved = [8]byte{} // plain BEP 3 peer
	wire.WriteHandshake(c, h)
	all := bitfield.New(numPieces)
	all.SetAll()
	var out []byte
	out = wire.AppendMessage(out, wire.Bitfield{Bits: all.Bytes()})
	out = wire.AppendMessage(out, wire.Unchoke{})
	c.Write(out)
	r := wire.NewReader(c, 1<<20)
	for {
		m, err := r.Next()
		if err != nil {
			return
		}
		req, ok := m.(*wire.Request)
		if !ok {
			continue
		}
		off := int(req.Index)*pieceLen + int(req.Begin)
		block := bytes.Clone(f.tr.data[off : off+int(req.Length)])
		if f.evil {
			block[0] ^= 0xff
		}
		time.Sleep(f.delay)
		if _, err := c.Write(wire.AppendMessage(nil, wire.Piece{Index: req.Index, Begin: req.Begin, Data: block})); err != nil {
			return
		}
	}
}

func TestDownloadFromScriptedSeeder(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	good := startFake(t, tr, false)
	leech(t, tr, good.addr())
}

// A peer whose data fails verification is dropped and never redialled;
// the download completes from the honest peer.
func TestBadDataPeerIsBanned(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	evil := startFake(t, tr, true)
	good := startFake(t, tr, false)
	good.delay = 40 * time.Millisecond // long enough for a redial to show
	var log bytes.Buffer
	var mu sync.Mutex
	logger := hclog.New(&hclog.LoggerOptions{Output: lockedWriter{&mu, &log}, Level: hclog.Debug})
	s, _ := leechLog(t, tr, logger, evil.addr(), good.addr())
	mu.Lock()
	banned := bytes.Contains(log.Bytes(), []byte("banning peer: peer="+evil.addr().String()))
	mu.Unlock()
	if !banned {
		t.Fatalf("no ban of %s in the log:\n%s", evil.addr(), log.String())
	}
	if st := s.Stats(); st.Wasted == 0 {
		t.Fatal("no data was counted as wasted: the evil peer was never used")
	}
	if n := evil.conns.Load(); n != 1 {
		t.Fatalf("the evil peer was connected %d times, want 1 (banned after its bad pieces)", n)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Garbage from a peer ends that connection only.
func TestGarbagePeerDropped(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				wire.ReadHandshake(c)
				wire.WriteHandshake(c, wire.NewHandshake(tr.infoHash, [20]byte{'g'}))
				// A bitfield of the wrong size, then a message over any limit.
				c.Write([]byte{0, 0, 0, 2, 5, 0xff, 0x7f, 0xff, 0xff, 0xff, 7})
				time.Sleep(time.Second)
			}()
		}
	}()
	good := startFake(t, tr, false)
	leech(t, tr, netip.MustParseAddrPort(ln.Addr().String()), good.addr())
}
