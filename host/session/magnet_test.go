package session

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// In process, under the race detector: a magnet link to a libtorrent
// seeder resolves, the session goes on to download identical data, and
// everything a UI reads (Meta, MetadataStatus, Stats, Name, Trackers)
// is read all along from another goroutine.
func TestMagnetSessionFromLibtorrent(t *testing.T) {
	t.Parallel()
	src, mi, seeder := ltSeeder(t, realpeers.LTOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The seeder is reached through a gate that holds connections until
	// the test has seen the metadata phase: on a fast machine it could
	// otherwise be over between two looks.
	gate := make(chan struct{})
	held := holdingProxy(t, fmt.Sprintf("127.0.0.1:%d", seeder.Port), gate)
	link := &magnet.Magnet{InfoHash: mi.InfoHash, Name: "shown meanwhile", Trackers: []string{"http://127.0.0.1:1/announce"},
		Peers: []netip.AddrPort{held}}
	dir := t.TempDir()
	s, err := OpenMagnet(link, Options{Dir: dir, Listener: ln, Logger: testLogger(t, "magnet")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Meta() != nil || s.Name() != "shown meanwhile" || len(s.TrackerTiers()) != 1 {
		t.Fatalf("before Run: Meta %v, Name %q, Trackers %v", s.Meta(), s.Name(), s.TrackerTiers())
	}
	if _, ok := s.MetadataStatus(); !ok {
		t.Fatal("MetadataStatus says there is no metadata phase before Run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan struct{})
	sawPhase := make(chan bool, 1)
	go func() {
		phase := false
		defer func() { sawPhase <- phase }()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			if st, ok := s.MetadataStatus(); ok && st.Known > 0 && !phase {
				phase = true
				close(gate)
			}
			if m := s.Meta(); m != nil && m.InfoHash != mi.InfoHash {
				t.Errorf("Meta has info-hash %x", m.InfoHash)
			}
			_, _, _ = s.Stats(), s.Name(), s.TrackerTiers()
		}
	}()
	err = s.Run(ctx)
	close(done)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("Run: %v (ctx %v)", err, ctx.Err())
	}
	if !<-sawPhase {
		t.Error("MetadataStatus never showed a known peer during the metadata phase")
	}
	select {
	case <-gate:
	default:
		t.Fatal("the metadata arrived through a gate that was never opened")
	}
	sameTree(t, src, dir)
	if m := s.Meta(); m == nil || m.Info.Name != "t" {
		t.Fatalf("Meta after Run: %+v", m)
	}
	if _, ok := s.MetadataStatus(); ok {
		t.Error("MetadataStatus still reports a metadata phase")
	}
	saved, err := os.ReadFile(storage.MetadataPath(dir, mi.InfoHash))
	if err != nil || string(saved) != string(s.TorrentFile()) {
		t.Fatalf("saved metadata differs from TorrentFile (%v)", err)
	}
	// Opened again, the saved metadata makes the torrent known at once.
	again, err := OpenMagnet(link, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if m := again.Meta(); m == nil || m.InfoHash != mi.InfoHash {
		t.Fatalf("reopened: Meta %v", m)
	}
	again.Close()
}

// ltSeeder makes the test tree in src and seeds it from libtorrent.
func ltSeeder(t *testing.T, opt realpeers.LTOptions) (src string, mi *metainfo.MetaInfo, seeder *realpeers.Peer) {
	t.Helper()
	src = t.TempDir()
	torrent := makeTorrent(t, src, "")
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	return src, mi, realpeers.StartLibtorrentSeeder(t, torrent, src, opt)
}

// holdingProxy forwards connections to target, each only once gate is
// closed; it returns its address.
func holdingProxy(t *testing.T, target string, gate <-chan struct{}) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				<-gate
				d, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer d.Close()
				go io.Copy(d, c)
				io.Copy(c, d)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// A magnet link to a seeder that takes only encrypted connections
// (libtorrent's pe_forced, like "require encryption" in qBittorrent or
// Transmission): it hangs up on a plain handshake, so the metadata phase
// tries MSE, as the swarm does; with EncryptOutgoing MSE comes first. The
// download then completes.
func TestMagnetFromEncryptionOnlySeeder(t *testing.T) {
	t.Parallel()
	src, mi, seeder := ltSeeder(t, realpeers.LTOptions{Encryption: "forced"})
	link := &magnet.Magnet{InfoHash: mi.InfoHash, Peers: []netip.AddrPort{loopback(seeder.Port)}}
	for _, encrypt := range []bool{false, true} {
		t.Run(fmt.Sprintf("EncryptOutgoing=%v", encrypt), func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenMagnet(link, Options{Dir: dir, EncryptOutgoing: encrypt, Logger: testLogger(t, "magnet")})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := s.Run(ctx); err != nil || ctx.Err() != nil {
				t.Fatalf("Run: %v (ctx %v)", err, ctx.Err())
			}
			sameTree(t, src, dir)
		})
	}
}
