package pex_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/pex"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// A libtorrent leecher that knows no peer but us learns a libtorrent
// seeder from our ut_pex message, dials it and completes: libtorrent
// reads the message our encoder and State write.
func TestLibtorrentLearnsFromOurPEX(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 3<<20 + 11})
	torrent := realpeers.MakeTorrent(t, src, "", 16)
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	dst := t.TempDir()
	leecher := realpeers.StartLibtorrentLeecher(t, torrent, dst, realpeers.LTOptions{})

	conn := dialLibtorrent(t, leecher.Port, mi.InfoHash)
	defer conn.Close()
	ours := wire.ExtHandshake{M: map[string]int{wire.ExtPEX: 1}}
	if _, err := conn.Write(wire.AppendMessage(nil, wire.Extended{ExtID: 0, Payload: ours.Marshal()})); err != nil {
		t.Fatal(err)
	}
	r := wire.NewReader(conn, 1<<20)
	theirPEX := 0
	for theirPEX == 0 {
		msg, err := r.Next()
		if err != nil {
			t.Fatalf("waiting for libtorrent's extension handshake: %v", err)
		}
		if ext, ok := msg.(*wire.Extended); ok && ext.ExtID == 0 {
			h, err := wire.ParseExtHandshake(ext.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if theirPEX = h.M[wire.ExtPEX]; theirPEX == 0 {
				t.Fatalf("libtorrent's extension handshake has no ut_pex: %+v", h)
			}
		}
	}
	var state pex.State
	seederAddr := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", seeder.Port))
	self := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", leecher.Port))
	m, ok := state.Message(time.Now(), self, map[netip.AddrPort]wire.PEXFlags{seederAddr: wire.PEXSeed, self: 0})
	if !ok || len(m.Added) != 1 {
		t.Fatalf("State.Message = %+v, %v", m, ok)
	}
	if _, err := conn.Write(wire.AppendMessage(nil, wire.Extended{ExtID: uint8(theirPEX), Payload: wire.AppendPEXMsg(nil, m)})); err != nil {
		t.Fatal(err)
	}
	// Keep reading so libtorrent's writes to us never block it.
	go func() {
		for {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// dialLibtorrent connects and handshakes, retrying while libtorrent
// closes the connection at once: a libtorrent peer that has just printed
// READY turns connections away for a moment (seen here: EOF on the
// handshake without a pause, none with one).
func dialLibtorrent(t *testing.T, port int, infoHash [20]byte) net.Conn {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			conn.SetDeadline(time.Now().Add(90 * time.Second))
			if err = wire.WriteHandshake(conn, wire.NewHandshake(infoHash, [20]byte{'-', 'T', 'T'})); err == nil {
				if _, err = wire.ReadHandshake(conn); err == nil {
					return conn
				}
			}
			conn.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake with libtorrent at port %d in 30 s: %v", port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
