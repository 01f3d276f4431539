package metadata_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metadata"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/pex"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// Our extension numbers, as our handshake announces them: peers send us
// ut_metadata and ut_pex under these.
const (
	ourMetadataID = 3
	ourPEXID      = 4
)

// infoBytes is the info dictionary exactly as it is in the .torrent file.
func infoBytes(t *testing.T, torrent string) []byte {
	t.Helper()
	b, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Info bencode.Bytes `bencode:"info"`
	}
	if err := bencode.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return raw.Info
}

// A libtorrent seeder with a libtorrent leecher attached: we fetch the
// info dictionary from the seeder with our ut_metadata messages and
// Assembler, and the seeder's ut_pex tells us of the leecher.
func TestFetchMetadataAndPEXFromLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	// 31 MiB in 32 KiB pieces: 992 piece hashes, an info dictionary of
	// two metadata pieces.
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 24 << 20}, realpeers.FileSpec{Path: "tree/b.bin", Size: 7<<20 + 5})
	torrent := realpeers.MakeTorrent(t, src, "", 15)
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	info := infoBytes(t, torrent)
	if n := wire.NumMetadataPieces(len(info)); n < 2 {
		t.Fatalf("info dictionary of %d bytes is one metadata piece; the test wants several", len(info))
	}
	// The seeder is slow so the leecher stays connected (libtorrent drops
	// seed-to-seed connections) for as long as the test runs.
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 64 << 10})
	leecher := realpeers.StartLibtorrentLeecher(t, torrent, t.TempDir(),
		realpeers.LTOptions{ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", seeder.Port)}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// PEX lists the peers connected when it first writes to us: wait
	// until the leecher has data from the seeder.
	for leecher.Progress() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the leecher never got data from the seeder:\n%s", leecher.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}

	conn, err := new(net.Dialer).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", seeder.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	got, learned := fetchFrom(t, conn, mi.InfoHash)
	if !bytes.Equal(got, info) || sha1.Sum(got) != mi.InfoHash {
		t.Fatalf("assembled %d bytes that are not the torrent's info dictionary", len(got))
	}
	want := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", leecher.Port))
	for _, p := range learned {
		if p.Addr == want {
			return
		}
	}
	t.Fatalf("ut_pex from the seeder named %v, not the leecher at %v", learned, want)
}

// fetchFrom does the handshakes on conn, fetches the metadata and reads
// ut_pex until it has both, as the swarm will.
func fetchFrom(t *testing.T, conn net.Conn, infoHash [20]byte) ([]byte, []wire.PEXPeer) {
	t.Helper()
	if err := wire.WriteHandshake(conn, wire.NewHandshake(infoHash, [20]byte{'-', 'T', 'T', '0', '0', '0', '0', '-'})); err != nil {
		t.Fatal(err)
	}
	hs, err := wire.ReadHandshake(conn)
	if err != nil || hs.InfoHash != infoHash || !hs.Extended() {
		t.Fatalf("handshake %+v, %v", hs, err)
	}
	ours := wire.ExtHandshake{M: map[string]int{wire.ExtMetadata: ourMetadataID, wire.ExtPEX: ourPEXID}, V: "torrent test"}
	send(t, conn, wire.Extended{ExtID: 0, Payload: ours.Marshal()})

	asm := metadata.New[string](infoHash)
	var state pex.State
	var learned []wire.PEXPeer
	theirMetadataID := 0
	r := wire.NewReader(conn, 1<<20)
	for asm.Info() == nil || learned == nil {
		msg, err := r.Next()
		if err != nil {
			t.Fatalf("read (metadata %v, pex %v): %v", asm.Info() != nil, learned != nil, err)
		}
		ext, ok := msg.(*wire.Extended)
		if !ok {
			continue // bitfield, have, unchoke: not this test's business
		}
		switch ext.ExtID {
		case 0:
			h, err := wire.ParseExtHandshake(ext.Payload)
			if err != nil {
				t.Fatal(err)
			}
			theirMetadataID = h.M[wire.ExtMetadata]
			if theirMetadataID == 0 || h.M[wire.ExtPEX] == 0 {
				t.Fatalf("libtorrent's extension handshake lacks ut_metadata or ut_pex: %+v", h)
			}
			if err := asm.AddPeer("seeder", h.MetadataSize); err != nil {
				t.Fatal(err)
			}
			// Ask for every piece at once, as a client does.
			for {
				piece, ok := asm.Next("seeder")
				if !ok {
					break
				}
				req := wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: piece})
				send(t, conn, wire.Extended{ExtID: uint8(theirMetadataID), Payload: req})
			}
		case ourMetadataID:
			m, err := wire.ParseMetadataMsg(ext.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := asm.Data("seeder", m); err != nil {
				t.Fatal(err)
			}
		case ourPEXID:
			m, err := wire.ParsePEXMsg(ext.Payload)
			if err != nil {
				t.Fatal(err)
			}
			got, err := state.Received(time.Now(), m)
			if err != nil {
				t.Fatal(err)
			}
			learned = append(learned, got...)
			if learned == nil {
				learned = []wire.PEXPeer{}
			}
		}
	}
	return asm.Info(), learned
}

func send(t *testing.T, conn net.Conn, m wire.Message) {
	t.Helper()
	if _, err := conn.Write(wire.AppendMessage(nil, m)); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
}

// A libtorrent leecher given only a magnet link to us gets the info
// dictionary from our Serve, and it hashes to the info-hash.
func TestServeMetadataToLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 28 << 20}, realpeers.FileSpec{Path: "tree/b.bin", Size: 33})
	torrent := realpeers.MakeTorrent(t, src, "", 15)
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	info := infoBytes(t, torrent)
	if n := wire.NumMetadataPieces(len(info)); n < 2 {
		t.Fatalf("info dictionary of %d bytes is one metadata piece; the test wants several", len(info))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() { served <- serveOne(l, mi.InfoHash, info) }()

	// The link as our String writes it: libtorrent must read it too.
	link := (&magnet.Magnet{InfoHash: mi.InfoHash, Name: "tree",
		Peers: []netip.AddrPort{netip.MustParseAddrPort(l.Addr().String())}}).String()
	leecher := realpeers.StartLibtorrentLeecher(t, link, t.TempDir(), realpeers.LTOptions{})
	want := fmt.Sprintf("METADATA sha1=%x", mi.InfoHash)
	deadline := time.After(60 * time.Second)
	for !strings.Contains(leecher.Output(), want) {
		select {
		case err := <-served:
			t.Fatalf("our side ended before libtorrent had the metadata: %v\n%s", err, leecher.Output())
		case <-deadline:
			t.Fatalf("libtorrent has no metadata after 60 s:\n%s", leecher.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serveOne accepts one connection and answers its ut_metadata requests
// until it closes.
func serveOne(l net.Listener, infoHash [20]byte, info []byte) error {
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(90 * time.Second))
	res, err := mse.Accept(c, mse.InfoHashes(infoHash)) // libtorrent tries MSE first
	if err != nil {
		return err
	}
	conn := res.Conn
	hs, err := wire.ReadHandshake(conn)
	if err != nil {
		return err
	}
	if err := wire.WriteHandshake(conn, wire.NewHandshake(infoHash, [20]byte{'-', 'T', 'T'})); err != nil {
		return err
	}
	if !hs.Extended() {
		return errors.New("libtorrent's handshake lacks the extension protocol")
	}
	ours := wire.ExtHandshake{M: map[string]int{wire.ExtMetadata: ourMetadataID}, MetadataSize: len(info)}
	if _, err := conn.Write(wire.AppendMessage(nil, wire.Extended{ExtID: 0, Payload: ours.Marshal()})); err != nil {
		return err
	}
	theirID := 0
	r := wire.NewReader(conn, 1<<20)
	for {
		msg, err := r.Next()
		if err != nil {
			return err
		}
		ext, ok := msg.(*wire.Extended)
		switch {
		case !ok:
		case ext.ExtID == 0:
			h, err := wire.ParseExtHandshake(ext.Payload)
			if err != nil {
				return err
			}
			theirID = h.M[wire.ExtMetadata]
		case ext.ExtID == ourMetadataID:
			req, err := wire.ParseMetadataMsg(ext.Payload)
			if err != nil {
				return err
			}
			if theirID == 0 {
				return errors.New("a ut_metadata request before an extension handshake naming ut_metadata")
			}
			reply := wire.AppendMetadataMsg(nil, metadata.Serve(info, req))
			if _, err := conn.Write(wire.AppendMessage(nil, wire.Extended{ExtID: uint8(theirID), Payload: reply})); err != nil {
				return err
			}
		}
	}
}
