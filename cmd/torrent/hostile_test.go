package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// hostileTree is issue 9's torrent: 22 MiB in several files.
var hostileTree = []realpeers.FileSpec{
	{Path: "tree/a.bin", Size: 7<<20 + 13},
	{Path: "tree/empty", Size: 0},
	{Path: "tree/sub/b.bin", Size: 16383},
	{Path: "tree/sub/deep/d.bin", Size: 5<<20 + 262145},
	{Path: "tree/z.bin", Size: 10<<20 + 12345},
}

// The crash of issue 9 as a new user met it: a download from an honest
// libtorrent seeder with eight misbehaving peers added with -peer beside it.
// The client exits 0 with the right data and no panic, and drops each
// hostile peer, with a log line that names it, while the download goes on.
func TestDownloadAmongHostilePeers(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, hostileTree...)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	tr := hostilepeer.Torrent{InfoHash: m.InfoHash, NumPieces: m.Info.NumPieces(), PieceLength: m.Info.PieceLength, Length: m.Info.Length}
	behaviours := []hostilepeer.Behaviour{hostilepeer.OversizedFrame, hostilepeer.LongBitfield,
		hostilepeer.HaveOutOfRange, hostilepeer.WrongData, hostilepeer.UnrequestedBlocks,
		hostilepeer.RequestFlood, hostilepeer.WrongInfoHash, hostilepeer.SlowHandshake}
	// The client bans by IP: each hostile peer has a loopback address of
	// its own, the seeder keeps 127.0.0.1.
	args := []string{"-v", "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port)}
	var hostile []*hostilepeer.Peer
	for i, b := range behaviours {
		p := hostilepeer.Start(t, tr, b, hostilepeer.Options{IP: fmt.Sprintf("127.0.0.%d", 2+i)})
		hostile = append(hostile, p)
		args = append(args, "-peer", p.Addr().String())
	}
	// The cap keeps the download going (22 MiB take over 20 s) for longer
	// than the slowest misbehaviour takes to show: a handshake one byte a
	// second runs into the 10 s handshake deadline.
	dst := t.TempDir()
	c := startClient(t, append(args, "-down-rate", "1MB", "-dir", dst, torrent)...)
	c.wait(3*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	out := c.output()
	if strings.Contains(out, "panic") || regexp.MustCompile(`goroutine \d+ \[`).MatchString(out) {
		t.Fatalf("a panic or a goroutine dump in the output:\n%s", out)
	}
	complete := strings.Index(out, "download complete")
	if complete < 0 {
		t.Fatalf("no \"download complete\" in the output:\n%s", out)
	}
	for i, p := range hostile {
		loc := p.DroppedLine().FindStringIndex(out)
		switch {
		case loc == nil:
			t.Errorf("%v (%s): no log line says it was dropped", behaviours[i], p.Addr())
		case loc[0] > complete:
			t.Errorf("%v (%s): dropped only after the download completed", behaviours[i], p.Addr())
		}
		if p.Dropped() == 0 {
			t.Errorf("%v (%s): it saw none of its connections closed by the client", behaviours[i], p.Addr())
		}
		// Bans stick: the peer that sent wrong data is not dialled again.
		// Only the client's own connections count (its peer ID): it passes
		// the peers' addresses on by PEX, and the seeder may dial them too.
		if behaviours[i] == hostilepeer.WrongData {
			ids, n := p.PeerIDs(), 0
			for _, id := range ids {
				if strings.HasPrefix(id, "-TZ") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%v (%s): the client connected %d times, want 1 (banned); peer IDs of the %d connections: %q",
					behaviours[i], p.Addr(), n, p.Conns(), ids)
			}
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
