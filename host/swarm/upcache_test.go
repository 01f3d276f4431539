package swarm

import (
	"bytes"
	"context"
	"crypto/sha1"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/ratelimit"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/wire"
)

const upPieceLen = 32 << 10

// seedData is a torrent of four pieces, complete on disk in dir/f.
func seedData(t *testing.T) (pieceData, []byte, string) {
	t.Helper()
	data := make([]byte, 4*upPieceLen)
	rand.NewChaCha8([32]byte{3}).Read(data)
	l := storage.Layout{PieceLength: upPieceLen, Files: []storage.File{{Path: "f", Length: int64(len(data))}}}
	for off := 0; off < len(data); off += upPieceLen {
		l.Hashes = append(l.Hashes, sha1.Sum(data[off:off+upPieceLen]))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	geo := geometry{numPieces: 4, pieceLength: upPieceLen, totalLength: int64(len(data))}
	return pieceData{geo: geo, st: st}, data, filepath.Join(dir, "f")
}

// testWriter runs a peer writer over a pipe; asks queues requests for the
// blocks of a piece, got reads back what the writer sent.
type testWriter struct {
	out  *outbox
	conn net.Conn
	rd   *wire.Reader
}

func startWriter(t *testing.T, ctx context.Context, wg *sync.WaitGroup, c *upCache, d *diskCheck) *testWriter {
	ours, theirs := net.Pipe()
	pc := &peerConn{conn: ours, out: newOutbox()}
	w := &peerWriter{c: pc, fast: true, idle: time.Minute, lim: ratelimit.New(0), cache: c, disk: d}
	wg.Add(1)
	go func() { defer wg.Done(); w.run(ctx) }()
	t.Cleanup(func() { theirs.Close() })
	return &testWriter{out: pc.out, conn: theirs, rd: wire.NewReader(theirs, 1<<20)}
}

func (tw *testWriter) ask(piece int) {
	for b := 0; b < upPieceLen; b += blockSize {
		tw.out.upload(upReq{index: uint32(piece), begin: uint32(b), length: blockSize})
	}
}

// got reads one answer per block of a piece: the piece's bytes as sent, and
// how many blocks were rejected instead.
func (tw *testWriter) got(t *testing.T) (sent []byte, rejected int) {
	t.Helper()
	tw.conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails, it does not time anything
	for n := 0; n < upPieceLen/blockSize; n++ {
		m, err := tw.rd.Next()
		if err != nil {
			t.Fatalf("reading what the writer sent: %v", err)
		}
		switch m := m.(type) {
		case *wire.Piece:
			sent = append(sent, m.Data...)
		case *wire.Reject:
			rejected++
		default:
			t.Fatalf("unexpected message %T", m)
		}
	}
	return sent, rejected
}

// Several peers asking for the same piece cost one read and hash; a piece
// spoilt on disk is never sent, and a piece invalidated (data written to
// it, or found bad) is read and hashed again before it is sent.
func TestUploadCacheSharedByPeers(t *testing.T) {
	pd, data, path := seedData(t)
	c := newUpCache(pd)
	d := newDiskCheck(pd, c, func(int) bool { return true }, hclog.NewNullLogger())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var ws []*testWriter
	for range 6 {
		ws = append(ws, startWriter(t, ctx, &wg, c, d))
	}
	piece := func(i int) []byte { return data[i*upPieceLen : (i+1)*upPieceLen] }

	for _, w := range ws {
		w.ask(2)
	}
	for i, w := range ws {
		if sent, rej := w.got(t); rej != 0 || !bytes.Equal(sent, piece(2)) {
			t.Fatalf("peer %d: piece 2 not sent right (%d rejects)", i, rej)
		}
	}
	if n := c.loads.Load(); n != 1 {
		t.Fatalf("6 peers asking for piece 2: %d reads and hashes, want 1", n)
	}

	// Piece 1 spoilt on disk before anyone asked: every peer is refused,
	// and it is reported lost.
	spoil(t, path, 1)
	for _, w := range ws[:3] {
		w.ask(1)
		if sent, rej := w.got(t); len(sent) != 0 || rej != upPieceLen/blockSize {
			t.Fatalf("spoilt piece 1: %d bytes sent, %d rejects", len(sent), rej)
		}
	}
	if lost := d.take(); len(lost) == 0 || lost[0] != 1 {
		t.Fatalf("spoilt piece 1 not reported lost: %v", lost)
	}

	// Piece 2 is cached; spoilt on disk and invalidated, as when the disk
	// checker finds it bad, it is read again and refused.
	before := c.loads.Load()
	spoil(t, path, 2)
	d.lose(2)
	ws[0].ask(2)
	if sent, rej := ws[0].got(t); len(sent) != 0 || rej != upPieceLen/blockSize {
		t.Fatalf("piece 2 spoilt and invalidated: %d bytes sent, %d rejects", len(sent), rej)
	}
	if c.loads.Load() == before {
		t.Fatal("piece 2 was served from the cache after it was invalidated")
	}
}

// spoil flips a byte in the middle of piece i of the file.
func spoil(t *testing.T, path string, i int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	off := int64(i*upPieceLen + upPieceLen/2)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
