package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/internal/hostilepeer"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testtracker"
)

// magnetFor is a magnet link for torrent with x.pe peers and a tracker
// nobody answers on (so the trackers end up in the .torrent written).
func magnetFor(t *testing.T, torrent string, peers ...netip.AddrPort) (string, *metainfo.MetaInfo) {
	t.Helper()
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	link := &magnet.Magnet{InfoHash: m.InfoHash, Name: m.Info.Name, Peers: peers,
		Trackers: []string{"http://127.0.0.1:1/announce", "udp://127.0.0.1:1"}}
	return link.String(), m
}

func ltAddr(p *realpeers.Peer) netip.AddrPort {
	return netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", p.Port))
}

// A magnet link with x.pe to a libtorrent seeder and no .torrent on our
// side: the metadata comes from the seeder, then identical data. The
// metadata is kept in the download directory.
func TestMagnetFromLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	link, m := magnetFor(t, torrent, ltAddr(seeder))
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-dir", dst, link)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	out := c.output()
	if !strings.Contains(out, "metadata fetched") {
		t.Fatalf("no \"metadata fetched\" in the output:\n%s", out)
	}
	saved, err := metainfo.Load(storage.MetadataPath(dst, m.InfoHash))
	if err != nil || saved.InfoHash != m.InfoHash {
		t.Fatalf("saved metadata: %v, info-hash %x, want %x", err, saved.InfoHash, m.InfoHash)
	}
}

// -metadata-only writes NAME.torrent with the same info-hash and the
// link's trackers, prints its path and exits 0; a restart with the same
// link, no peer reachable, knows the torrent at once.
func TestMagnetMetadataOnlyThenOffline(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	link, m := magnetFor(t, torrent, ltAddr(seeder))
	dst := t.TempDir()
	c := startClient(t, "-metadata-only", "-dir", dst, link)
	c.wait(time.Minute, 0)
	want := filepath.Join(dst, "tree.torrent")
	if !strings.Contains(c.output(), want+"\n") {
		t.Fatalf("the path %s is not printed:\n%s", want, c.output())
	}
	got, err := metainfo.Load(want)
	if err != nil || got.InfoHash != m.InfoHash {
		t.Fatalf("%s: %v, info-hash %x, want %x", want, err, got.InfoHash, m.InfoHash)
	}
	if tiers := got.Trackers(); len(tiers) != 2 || tiers[0][0] != "http://127.0.0.1:1/announce" || tiers[1][0] != "udp://127.0.0.1:1" {
		t.Errorf("trackers of the written torrent: %v, want the link's two, a tier each", tiers)
	}
	if entries, _ := os.ReadDir(filepath.Join(dst)); len(entries) != 2 {
		t.Errorf("-metadata-only left %d entries in -dir, want NAME.torrent and the saved metadata: %v", len(entries), entries)
	}
	seeder.Kill()
	// -metadata-only again, the seeder gone: the saved metadata suffices.
	if err := os.Remove(want); err != nil {
		t.Fatal(err)
	}
	again := startClient(t, "-metadata-only", "-dir", dst, link)
	again.wait(30*time.Second, 0)
	if got, err := metainfo.Load(want); err != nil || got.InfoHash != m.InfoHash || strings.Contains(again.output(), "fetching metadata") {
		t.Fatalf("-metadata-only without the network: %v\n%s", err, again.output())
	}
	restartOffline(t, dst, link, m, 0)
}

// restartOffline starts the client on link in dir with no peer reachable and
// checks the torrent is known at once: no metadata phase, the data on
// disk checked (kept pieces found).
func restartOffline(t *testing.T, dir, link string, m *metainfo.MetaInfo, minKept int64) {
	t.Helper()
	c := startClient(t, "-v", "-dir", dir, link)
	got := c.waitFor(checkedRe, time.Minute)
	out := c.output()
	if !strings.Contains(out, "metadata known from an earlier run") || strings.Contains(out, "fetching metadata") {
		t.Fatalf("the restart did not take the saved metadata:\n%s", out)
	}
	if total := atoi(t, got[2]); total != int64(m.Info.NumPieces()) {
		t.Fatalf("checked %d pieces, the torrent has %d", total, m.Info.NumPieces())
	}
	if kept := atoi(t, got[1]); kept < minKept {
		t.Fatalf("the restart kept %d pieces, want at least %d", kept, minKept)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(30*time.Second, 0)
}

// A magnet download killed half way: a restart with the same link, no
// peer reachable, knows the torrent at once and keeps what was verified.
func TestMagnetRestartAfterInterruptedDownload(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "r/a.bin", Size: 6<<20 + 3})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "r"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	link, m := magnetFor(t, torrent, ltAddr(seeder))
	dst := t.TempDir()
	first := startClient(t, "-seed=false", "-up-rate", "0", "-dir", dst, link)
	waitPartial(t, dst, 2<<20)
	// The resume file is saved every 10 s; the check on restart finds the
	// verified pieces either way.
	syscall.Kill(-first.cmd.Process.Pid, syscall.SIGKILL)
	<-first.done
	seeder.Kill()
	restartOffline(t, dst, link, m, 1)
}

// heldProxy forwards connections to the peer at to, each only once
// release is called: the test decides when the honest seeder enters.
func heldProxy(t *testing.T, to netip.AddrPort) (addr netip.AddrPort, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	t.Cleanup(func() { once.Do(func() { close(gate) }); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				<-gate
				up, err := net.Dial("tcp", to.String())
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(up, c); up.Close() }()
				io.Copy(c, up)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), func() { once.Do(func() { close(gate) }) }
}

// hostileMetadataSetup is a libtorrent seeder of a torrent whose info
// dictionary has two metadata pieces, behind a held proxy, and the two
// liars: wrong metadata (at 127.0.0.2) and a size over the cap (.3).
func hostileMetadataSetup(t *testing.T, src string, liarDelay time.Duration) (link string, info []byte, liar, big *hostilepeer.Peer, release func()) {
	t.Helper()
	// 992 piece hashes of 32 KiB pieces: an info dictionary of two
	// metadata pieces.
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 24 << 20}, realpeers.FileSpec{Path: "tree/b.bin", Size: 7<<20 + 5})
	torrent := realpeers.MakeTorrent(t, src, "", 15)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	data, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if info, err = metainfo.RawInfo(data); err != nil {
		t.Fatal(err)
	}
	if len(info) <= 16<<10 {
		t.Fatalf("info dictionary of %d bytes: one metadata piece, the test wants two", len(info))
	}
	tr := hostilepeer.Torrent{InfoHash: sha1.Sum(info), MetadataSize: len(info)}
	liar = hostilepeer.Start(t, tr, hostilepeer.WrongMetadata, hostilepeer.Options{IP: "127.0.0.2", Delay: liarDelay})
	big = hostilepeer.Start(t, tr, hostilepeer.OversizedMetadata, hostilepeer.Options{IP: "127.0.0.3"})
	proxy, release := heldProxy(t, ltAddr(seeder))
	link, _ = magnetFor(t, torrent, liar.Addr(), big.Addr(), proxy)
	return link, info, liar, big, release
}

var bigBannedRe = regexp.MustCompile(`banning peer: ip=127\.0\.0\.3 reason="metadata_size 31457281 over the cap of 31457280"`)

// checkMetadataFrom checks the client wrote the seeder's info dictionary
// into file, banned both liars, each with a line that names it, and not
// the seeder; and did not connect to a liar again.
func checkMetadataFrom(t *testing.T, c *client, file string, info []byte, liar, big *hostilepeer.Peer, liarRe *regexp.Regexp) {
	t.Helper()
	c.wait(2*time.Minute, 0)
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if gotInfo, err := metainfo.RawInfo(got); err != nil || !bytes.Equal(gotInfo, info) {
		t.Fatalf("the written torrent's info dictionary is not the seeder's (%v)", err)
	}
	out := c.output()
	for _, re := range []*regexp.Regexp{liarRe, bigBannedRe} {
		if !re.MatchString(out) {
			t.Errorf("no %q in the output", re)
		}
	}
	if regexp.MustCompile(`banning peer: ip=127\.0\.0\.1 `).MatchString(out) {
		t.Errorf("the honest seeder was banned")
	}
	if liar.Conns() != 1 || big.Conns() != 1 {
		t.Errorf("the liars were connected %d and %d times, want once each (banned)", liar.Conns(), big.Conns())
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// A peer that sends wrong metadata alone is banned when its dictionary
// fails the hash check; one that announces a size over the cap is banned
// at its extension handshake; the right metadata then arrives from the
// libtorrent seeder (let in only after both bans), and the data. The
// swarm, which has the liars' x.pe addresses too, never dials them: the
// bans carry over.
func TestMagnetWrongMetadataPeerBanned(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	link, info, liar, big, release := hostileMetadataSetup(t, src, 0)
	dst := t.TempDir()
	c := startClient(t, "-v", "-seed=false", "-up-rate", "0", "-dir", dst, link)
	c.waitFor(regexp.MustCompile(`banning peer: ip=127\.0\.0\.2 `), 30*time.Second)
	c.waitFor(bigBannedRe, 30*time.Second)
	release()
	checkMetadataFrom(t, c, storage.MetadataPath(dst, sha1.Sum(info)), info, liar, big,
		regexp.MustCompile(`banning peer: ip=127\.0\.0\.2 reason="sent metadata of \d+ bytes that does not match the info-hash"`))
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// The liar's piece and the seeder's make a dictionary that fails the
// check: nobody is blamed, the next attempt takes every piece from one
// peer, and once the right dictionary is known the liar, whose piece
// differs from it, is banned.
func TestMagnetMixedWrongMetadataFoundOut(t *testing.T) {
	t.Parallel()
	// The liar answers its first request at once and the second after a
	// while: the seeder, let in between, sends the other piece.
	link, info, liar, big, release := hostileMetadataSetup(t, t.TempDir(), 10*time.Second)
	dst := t.TempDir()
	c := startClient(t, "-v", "-metadata-only", "-dir", dst, link)
	deadline := time.Now().Add(30 * time.Second)
	for liar.MetadataSent() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.waitFor(bigBannedRe, 30*time.Second)
	release()
	c.waitFor(regexp.MustCompile(`metadata from several peers does not match the info-hash`), 30*time.Second)
	checkMetadataFrom(t, c, filepath.Join(dst, "tree.torrent"), info, liar, big,
		regexp.MustCompile(`banning peer: ip=127\.0\.0\.2 reason="sent metadata pieces that differ from the verified metadata"`))
}

// A malformed magnet link is the caller's mistake: exit 2 and a message
// that names what is wrong.
func TestMagnetMalformed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := strings.Repeat("ab", 20)
	tests := map[string]struct{ link, want string }{
		"short hash":     {"magnet:?xt=urn:btih:abc", `invalid magnet link: xt "urn:btih:abc": info-hash of 3 characters`},
		"no info-hash":   {"magnet:?dn=x&tr=http://t.example/a", "invalid magnet link: no xt=urn:btih: info-hash"},
		"bad peer":       {"magnet:?xt=urn:btih:" + h + "&x.pe=example.org:1", `invalid magnet link: x.pe "example.org:1": not IPv4:port`},
		"bad tracker":    {"magnet:?xt=urn:btih:" + h + "&tr=ftp://t.example/", `invalid magnet link: tr "ftp://t.example/": scheme "ftp"`},
		"no query":       {"magnet:xt=urn:btih:" + h, "invalid magnet link: no ? after magnet:"},
		"v2 only":        {"magnet:?xt=urn:btmh:1220" + strings.Repeat("cd", 32), "only a v2 hash (urn:btmh): v2-only torrents are not supported yet"},
		"two info-hashs": {"magnet:?xt=urn:btih:" + h + "&xt=urn:btih:" + strings.Repeat("cd", 20), "two different urn:btih info-hashes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Nothing is started for it: no data directory, no DHT node.
			data := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			out, code := runTorrent(t, dir, "-dht", "-dht-bootstrap=", "-dir", data, tc.link)
			if code != 2 || !strings.Contains(out, "torrent: ") || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", code, tc.want, out)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) || strings.Contains(out, "DHT node started") {
				t.Errorf("a bad link started things: %s: %v\n%s", data, err, out)
			}
		})
	}
	out, code := runTorrent(t, dir, "-metadata-only", "x.torrent")
	if code != 2 || !strings.Contains(out, "-metadata-only is for a magnet link") {
		t.Fatalf("-metadata-only with a file: exit %d:\n%s", code, out)
	}
}

// Saved metadata that is damaged, or another torrent's, is ignored with a
// warning and fetched again; the good file replaces it.
func TestMagnetCorruptSavedMetadataFetchedAgain(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "c/a.bin", Size: 1 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "c"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	link, m := magnetFor(t, torrent, ltAddr(seeder))
	dst := t.TempDir()
	saved := storage.MetadataPath(dst, m.InfoHash)
	good, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated": good[:len(good)-9],
		"other":     []byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:xxxxxxxxxxxxxxxxxxxxee"),
	} {
		if err := os.WriteFile(saved, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		c := startClient(t, "-metadata-only", "-dir", dst, link)
		c.wait(time.Minute, 0)
		out := c.output()
		if !strings.Contains(out, "ignoring the saved metadata; fetching it again") || !strings.Contains(out, "metadata fetched") {
			t.Fatalf("%s: the damaged file was not ignored and fetched again:\n%s", name, out)
		}
		if got, err := metainfo.Load(saved); err != nil || got.InfoHash != m.InfoHash {
			t.Fatalf("%s: saved metadata after the fetch: %v", name, err)
		}
	}
}

// A magnet link with only the info-hash and a tracker (a real
// opentracker): the client announces before it knows the torrent, the
// tracker hands it the libtorrent seeder, the metadata comes from that
// seeder, and the swarm that follows gets the tracker's peer too.
func TestMagnetThroughOpentracker(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "o/a.bin", Size: 3<<20 + 5}, realpeers.FileSpec{Path: "o/b.bin", Size: 77})
	probe := realpeers.MakeTorrent(t, filepath.Join(src, "o"), "", 16)
	pm, err := metainfo.Load(probe) // the info-hash does not depend on the announce URL
	if err != nil {
		t.Fatal(err)
	}
	tr := testtracker.Start(t, pm.InfoHash)
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "o"), tr.HTTP, 16)
	realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{Tracker: true})
	link := (&magnet.Magnet{InfoHash: pm.InfoHash, Trackers: []string{tr.HTTP}}).String()
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-dir", dst, link)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "o"), filepath.Join(dst, "o"))
	saved, err := metainfo.Load(storage.MetadataPath(dst, pm.InfoHash))
	if err != nil || len(saved.Trackers()) != 1 || saved.Trackers()[0][0] != tr.HTTP {
		t.Fatalf("saved metadata: %v; want the link's tracker as announce", err)
	}
}

// -json with -metadata-only: metadata events, the last one done with the
// file written, no start, and stop with reason metadata.
func TestMagnetJSONMetadataOnly(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "j/a.bin", Size: 1 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "j"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	link, m := magnetFor(t, torrent, ltAddr(seeder))
	dst := t.TempDir()
	c := startClient(t, "-json", "-metadata-only", "-dir", dst, link)
	c.wait(time.Minute, 0)
	var events []map[string]any
	for _, l := range strings.Split(c.output(), "\n") {
		var ev map[string]any
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &ev) == nil {
			events = append(events, ev)
		}
	}
	if len(events) < 2 {
		t.Fatalf("%d JSON events:\n%s", len(events), c.output())
	}
	last, done := events[len(events)-1], events[len(events)-2]
	file := filepath.Join(dst, "j.torrent")
	if done["type"] != "metadata" || done["done"] != true || done["file"] != file || done["info_hash"] != fmt.Sprintf("%x", m.InfoHash) {
		t.Errorf("next to last event %v, want metadata done with file %s", done, file)
	}
	if last["type"] != "stop" || last["reason"] != "metadata" {
		t.Errorf("last event %v, want stop with reason metadata", last)
	}
	for _, ev := range events {
		if ev["type"] == "start" || ev["type"] == "error" {
			t.Errorf("a %v event with -metadata-only: %v", ev["type"], ev)
		}
	}
}

// A magnet link's so= (BEP 53) chooses the files: only the one selected is
// fetched and created, byte-identical.
func TestMagnetSelectOnly(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	pick := -1 // the last non-empty file, by its index in the file list
	for k, f := range m.Info.Extents {
		if f.Length > 0 && !f.Pad {
			pick = k
		}
	}
	link := &magnet.Magnet{InfoHash: m.InfoHash, Peers: []netip.AddrPort{ltAddr(seeder)}, Select: []magnet.Range{{First: pick, Last: pick}}}
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-dir", dst, link.String())
	c.wait(2*time.Minute, 0)
	for k, f := range m.Info.Extents {
		rel := m.Info.RelPath(f)
		got, err := os.ReadFile(filepath.Join(dst, rel))
		switch {
		case k == pick:
			want, _ := os.ReadFile(filepath.Join(src, rel))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the selected file %s: %v, %d bytes of %d", rel, err, len(got), len(want))
			}
		case f.Length > 0 && err == nil:
			t.Errorf("%s was not selected and is on disk", rel)
		}
	}
}

// A magnet link's ws= is a web seed: the metadata comes from a libtorrent
// peer capped at 16 kB/s, which alone would need minutes for the data; the
// web seed serves it.
func TestMagnetWebSeed(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 16 << 10})
	var gets atomic.Int64
	files := http.FileServer(http.Dir(src))
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(web.Close)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	link := &magnet.Magnet{InfoHash: m.InfoHash, Peers: []netip.AddrPort{ltAddr(seeder)}, WebSeeds: []string{web.URL + "/"}}
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-dir", dst, link.String())
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	if gets.Load() == 0 {
		t.Fatal("the web seed of the link was never asked")
	}
}

// -metadata-only with a magnet link that names no peer and no tracker: the
// metadata comes from a libtorrent seeder told to connect to our port
// (connect_peer) while the client waits, and the client writes
// NAME.torrent and exits 0, the incoming connection ended with the phase.
func TestMagnetMetadataOnlyFromIncomingSeeder(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	port := realpeers.FreePort(t)
	dst := t.TempDir()
	c := startClient(t, "-metadata-only", "-port", fmt.Sprint(port), "-dir", dst, (&magnet.Magnet{InfoHash: m.InfoHash}).String())
	c.waitFor(regexp.MustCompile(`fetching metadata`), time.Minute)
	realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
	c.wait(time.Minute, 0)
	want := filepath.Join(dst, "tree.torrent")
	if got, err := metainfo.Load(want); err != nil || got.InfoHash != m.InfoHash {
		t.Fatalf("%s: %v\n%s", want, err, c.output())
	}
}
