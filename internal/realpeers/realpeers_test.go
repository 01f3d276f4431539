package realpeers

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/testtracker"
)

// The harness itself: libtorrent to libtorrent directly, and libtorrent to
// aria2 through opentracker.
func TestLibtorrentToLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	MakeData(t, src)
	torrent := MakeTorrent(t, src, "", 18)
	seeder := StartLibtorrentSeeder(t, torrent, src, LTOptions{})
	dst := t.TempDir()
	leecher := StartLibtorrentLeecher(t, torrent, dst, LTOptions{ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", seeder.Port)}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

func TestLibtorrentToAria2ThroughOpentracker(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	MakeData(t, src, FileSpec{"x/one.bin", 5<<20 + 3}, FileSpec{"x/two.bin", 77})
	probe := MakeTorrent(t, filepath.Join(src, "x"), "http://127.0.0.1:1/announce", 16)
	// The info-hash does not depend on the announce URL.
	m, err := metainfo.Load(probe)
	if err != nil {
		t.Fatal(err)
	}
	tr := testtracker.Start(t, m.InfoHash)
	torrent := MakeTorrent(t, filepath.Join(src, "x"), tr.HTTP, 16)
	StartLibtorrentSeeder(t, torrent, src, LTOptions{Tracker: true})
	dst := t.TempDir()
	leecher := StartAria2Leecher(t, torrent, dst)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	SameFiles(t, filepath.Join(src, "x"), filepath.Join(dst, "x"))
}
