package session

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/wire"
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

// The session tells the swarm what the .torrent says: a private torrent's
// extension handshake has no ut_pex (BEP 27), and every torrent's names
// the size of its info dictionary for ut_metadata.
func TestSessionExtensionHandshake(t *testing.T) {
	for name, tc := range map[string]struct{ private, noPEX bool }{
		"public": {false, false}, "private": {true, false}, "public -pex=false": {false, true},
	} {
		private := tc.private
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			src := t.TempDir()
			makeTorrent(t, src, "") // the data
			data, err := metainfo.Create(filepath.Join(src, "t"), metainfo.CreateOptions{PieceLength: 64 << 10, Private: private})
			if err != nil {
				t.Fatal(err)
			}
			torrent := filepath.Join(t.TempDir(), "p.torrent")
			if err := os.WriteFile(torrent, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			sctx, stop := context.WithCancel(ctx)
			defer func() { stop(); wg.Wait() }()
			seed := startSession(t, sctx, &wg, torrent, src, Options{Seed: true, NoPEX: tc.noPEX, Logger: testLogger(t, "seeder")})
			eh := extHandshakeOf(t, seed)
			if _, pex := eh.M[wire.ExtPEX]; pex == (private || tc.noPEX) {
				t.Fatalf("private %v, no PEX %v: extension handshake %+v", private, tc.noPEX, eh.M)
			}
			if eh.M[wire.ExtMetadata] == 0 || eh.MetadataSize != len(seed.Meta().InfoBytes) {
				t.Fatalf("ut_metadata %d, metadata_size %d; want an id and %d", eh.M[wire.ExtMetadata], eh.MetadataSize, len(seed.Meta().InfoBytes))
			}
		})
	}
}

// extHandshakeOf connects to a session as a peer and returns its
// extension handshake.
func extHandshakeOf(t *testing.T, s *Session) wire.ExtHandshake {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.opts.Listener.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var id [20]byte
	copy(id[:], "-XX0001-exthandshake")
	if err := wire.WriteHandshake(c, wire.NewHandshake(s.Meta().InfoHash, id)); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	r := wire.NewReader(c, 1<<20)
	for {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("no extension handshake: %v", err)
		}
		if e, ok := m.(*wire.Extended); ok && e.ExtID == 0 {
			eh, err := wire.ParseExtHandshake(e.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return eh
		}
	}
}
