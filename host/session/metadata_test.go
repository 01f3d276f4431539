package session

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// A session seeding a .torrent serves its info dictionary: a libtorrent
// leecher given only a magnet link whose x.pe is the session gets the
// metadata and the data from it.
func TestSessionServesMetadataToMagnetLeecher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, torrent, seedAddr := startSeeder(t, ctx, testLogger(t, "seeder"))
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	magnet := fmt.Sprintf("magnet:?xt=urn:btih:%x&x.pe=%s", m.InfoHash, seedAddr)
	lt := realpeers.StartLibtorrentLeecher(t, magnet, dst, realpeers.LTOptions{})
	if err := lt.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("METADATA sha1=%x\n", m.InfoHash); !strings.Contains(lt.Output(), want) {
		t.Fatalf("libtorrent printed no %q", want)
	}
	sameTree(t, src, dst)
}
