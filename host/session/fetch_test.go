package session

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
)

// fakeMetaConn is a handshaken peer with no one behind it: what the
// fetcher sends it stays in its queue.
func fakeMetaConn(t *testing.T, f *fetcher, addr string, size int) *metaConn {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	c := &metaConn{addr: netip.MustParseAddrPort(addr), conn: a, out: make(chan []byte, 64), quit: make(chan struct{}),
		size: size, theirID: 7, pending: map[int]bool{}}
	f.book.Add(addrbook.Magnet, c.addr)
	f.book.Dial(time.Now(), 10, false)
	f.up(c)
	return c
}

// In solo mode (after a mismatch of several peers) one peer is asked at a
// time; one that leaves the requests unanswered is dropped after
// metaAnswer and backed off, and the next peer is asked.
func TestSoloPeerThatNeverAnswersIsReplaced(t *testing.T) {
	t.Parallel()
	f := newFetcher([20]byte{1}, [20]byte{2}, 0, hclog.NewNullLogger())
	size := 2*wire.MetadataPieceSize + 5 // three pieces
	silent := fakeMetaConn(t, f, "127.0.0.1:1", size)
	next := fakeMetaConn(t, f, "127.0.0.1:2", size)
	f.solo = true
	f.fill()
	if len(silent.pending) != 3 || len(next.pending) != 0 {
		t.Fatalf("solo: %d and %d pieces asked, want 3 of the first peer only", len(silent.pending), len(next.pending))
	}
	f.timeouts(time.Now())
	if f.conns[silent.addr] == nil {
		t.Fatal("dropped before metaAnswer")
	}
	later := time.Now().Add(metaAnswer + time.Second)
	f.timeouts(later)
	f.fill()
	if f.conns[silent.addr] != nil {
		t.Fatal("a peer that never answered is still used")
	}
	if len(next.pending) != 3 {
		t.Fatalf("the next peer was asked %d pieces, want 3", len(next.pending))
	}
	// Backed off: not dialled again at once.
	for _, a := range f.book.Dial(later, 10, false) {
		if a == silent.addr {
			t.Fatal("the silent peer is dialled again at once")
		}
	}
}
