package swarm_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/pick"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
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
	s, dir := swarmFor(t, tr, log, set)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Run(ctx, peers); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("not complete in time: %d pieces missing", s.Stats().Missing)
	}
	sameData(t, tr, dir)
	return s, dir
}

// sameData fails the test unless dir holds tr's data.
func sameData(t *testing.T, tr torrent, dir string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil || !bytes.Equal(got, tr.data) {
		t.Fatalf("downloaded data differs from the torrent's (%v)", err)
	}
}

// swarmFor prepares (without running it) a leecher of tr whose data goes
// to a new directory; the test's end closes its storage and picker.
func swarmFor(t *testing.T, tr torrent, log hclog.Logger, set func(*swarm.Config)) (*swarm.Swarm, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := storage.Open(dir, tr.layout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pm := pick.Start(context.Background(), pick.Config{Torrent: sdk.Torrent{NumPieces: numPieces, PieceLength: pieceLen, TotalLength: int64(len(tr.data))}, Have: bitfield.New(numPieces)})
	t.Cleanup(pm.Close)
	var id [20]byte
	copy(id[:], "-TZ0100-leecher00000")
	cfg := swarm.Config{InfoHash: tr.infoHash, PeerID: id, NumPieces: numPieces, PieceLength: pieceLen,
		TotalLength: int64(len(tr.data)), Have: bitfield.New(numPieces), Storage: st, Picker: pm, Logger: log}
	set(&cfg)
	return swarm.New(cfg), dir
}

// hostile is tr as the scripted peers see it.
func (tr torrent) hostile() hostilepeer.Torrent {
	return hostilepeer.Torrent{InfoHash: tr.infoHash, NumPieces: numPieces, PieceLength: pieceLen,
		Length: int64(len(tr.data)), Data: bytes.NewReader(tr.data)}
}

// seeder starts an honest scripted peer of tr on ip.
func seeder(t *testing.T, tr torrent, ip string, delay time.Duration) *hostilepeer.Peer {
	return hostilepeer.Start(t, tr.hostile(), hostilepeer.Honest, hostilepeer.Options{IP: ip, Delay: delay})
}

func TestDownloadFromScriptedSeeder(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	good := seeder(t, tr, "", 0)
	leech(t, tr, good.Addr())
}

// A peer whose data fails verification is dropped and never redialled;
// the download completes from the honest peer.
func TestBadDataPeerIsBanned(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	// Bans are by IP: the evil peer has an address of its own.
	evil := hostilepeer.Start(t, tr.hostile(), hostilepeer.WrongData, hostilepeer.Options{IP: "127.0.0.2"})
	good := seeder(t, tr, "", 40*time.Millisecond) // long enough for a redial to show
	log := newLog()
	s, _ := leechLog(t, tr, log.logger(), evil.Addr(), good.Addr())
	if !log.contains("banning peer: ip=127.0.0.2 ") {
		t.Fatalf("no ban of 127.0.0.2 in the log:\n%s", log)
	}
	if st := s.Stats(); st.Wasted == 0 {
		t.Fatal("no data was counted as wasted: the evil peer was never used")
	}
	if n := evil.Conns(); n != 1 {
		t.Fatalf("the evil peer was connected %d times, want 1 (banned after its bad pieces)", n)
	}
}

// testLog is a debug log a test can search while the swarm writes to it.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLog() *testLog { return &testLog{} }

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: l, Level: hclog.Debug})
}

func (l *testLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.buf.Bytes(), []byte(s))
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Each scripted misbehaviour ends that peer's connection, with a log line
// that names it, and only that one: once all have shown, an honest peer
// joins and the download completes.
func TestHostilePeersDropped(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	var peers []netip.AddrPort
	var hostile []*hostilepeer.Peer
	behaviours := []hostilepeer.Behaviour{hostilepeer.WrongData, hostilepeer.OversizedFrame,
		hostilepeer.LongBitfield, hostilepeer.HaveOutOfRange, hostilepeer.UnrequestedBlocks,
		hostilepeer.RequestFlood, hostilepeer.WrongInfoHash, hostilepeer.SlowHandshake}
	for i, b := range behaviours {
		// Bans are by IP: each has an address of its own.
		p := hostilepeer.Start(t, tr.hostile(), b, hostilepeer.Options{IP: fmt.Sprintf("127.0.0.%d", 10+i)})
		hostile = append(hostile, p)
		peers = append(peers, p.Addr())
	}
	log := newLog()
	s, dir := swarmFor(t, tr, log.logger(), func(*swarm.Config) {})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, peers) }()
	// The slowest to show is the handshake sent one byte a second, at the
	// 10 s handshake deadline.
	deadline := time.Now().Add(40 * time.Second)
	for i, p := range hostile {
		for time.Now().Before(deadline) && (p.Dropped() == 0 || !p.DroppedLine().MatchString(log.String())) {
			time.Sleep(50 * time.Millisecond)
		}
		if p.Dropped() == 0 || !p.DroppedLine().MatchString(log.String()) {
			t.Errorf("%v (%s): not dropped with a log line that names it (it saw %d drops)", behaviours[i], p.Addr(), p.Dropped())
		}
	}
	s.AddPeers([]netip.AddrPort{seeder(t, tr, "", 0).Addr()})
	if err := <-ran; err != nil || ctx.Err() != nil {
		t.Errorf("the download did not complete: %v, %v", err, ctx.Err())
	} else {
		sameData(t, tr, dir)
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}
