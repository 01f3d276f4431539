package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// create takes flags after PATH, several URLs in one tier, and -source;
// info lists every tracker (marking the one it cannot use), the source
// and a magnet link that parses back to the torrent.
func TestCreateTiersSourceAndInfo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	realpeers.MakeData(t, dir)
	out, code := runTorrent(t, dir, "create", "tree", "-a", "http://127.0.0.1:1/announce,udp://127.0.0.1:2",
		"-a", "wss://127.0.0.1:3/announce", "-source", "TAG", "-o", "x.torrent")
	if code != 0 {
		t.Fatalf("create with flags after PATH: exit %d\n%s", code, out)
	}
	m, err := metainfo.Load(filepath.Join(dir, "x.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.AnnounceList; len(got) != 2 || len(got[0]) != 2 || got[0][1] != "udp://127.0.0.1:2" || got[1][0] != "wss://127.0.0.1:3/announce" {
		t.Fatalf("announce-list %q", got)
	}
	if m.Info.Source != "TAG" {
		t.Fatalf("source %q", m.Info.Source)
	}
	out, code = runTorrent(t, dir, "info", "x.torrent")
	for _, want := range []string{
		"source:       TAG",
		"tier 0  http://127.0.0.1:1/announce\n",
		"tier 0  udp://127.0.0.1:2\n",
		"tier 1  wss://127.0.0.1:3/announce  (not used: unsupported)",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("info lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	i := strings.Index(out, "magnet:       ")
	if i < 0 {
		t.Fatalf("no magnet link:\n%s", out)
	}
	link := strings.Fields(out[i+len("magnet:"):])[0]
	ml, err := magnet.Parse(link)
	if err != nil {
		t.Fatalf("magnet link %s: %v", link, err)
	}
	if ml.InfoHash != m.InfoHash || ml.Name != "tree" || len(ml.Trackers) != 2 {
		t.Fatalf("magnet link %s: %+v", link, ml)
	}
	// The source is in the info dictionary: another tag, another hash.
	out, code = runTorrent(t, dir, "create", "-source", "OTHER", "-o", "y.torrent", "tree")
	if code != 0 {
		t.Fatalf("create: %s", out)
	}
	if y, err := metainfo.Load(filepath.Join(dir, "y.torrent")); err != nil || y.InfoHash == m.InfoHash {
		t.Fatalf("another source, same info-hash (%v)", err)
	}
}

// verify passes on good data, and on corrupted or missing data names the
// files and exits 1, changing nothing on disk.
func TestVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	realpeers.MakeData(t, dir)
	if out, code := runTorrent(t, dir, "create", "-piece-length", "16KiB", "-o", "x.torrent", "tree"); code != 0 {
		t.Fatalf("create: %s", out)
	}
	m, err := metainfo.Load(filepath.Join(dir, "x.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	out, code := runTorrent(t, dir, "verify", "x.torrent")
	if code != 0 || !strings.Contains(out, "pieces good; ") || strings.Contains(out, "missing") {
		t.Fatalf("verify of good data: exit %d\n%s", code, out)
	}
	// One byte changed in one file, another file gone.
	var changed, gone string
	for _, f := range m.Info.Files {
		switch {
		case f.Length > 100<<10 && changed == "":
			changed = m.Info.RelPath(f)
		case f.Length > 0 && gone == "":
			gone = m.Info.RelPath(f)
		}
	}
	p := filepath.Join(dir, changed)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	os.WriteFile(p, b, 0o644)
	os.Remove(filepath.Join(dir, gone))
	out, code = runTorrent(t, dir, "verify", "x.torrent", "-dir", ".")
	if code != 1 {
		t.Fatalf("verify of bad data: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{changed + " ", "1 of ", " pieces bad or missing", gone + " ", "missing", "pieces missing or bad"} {
		if !strings.Contains(out, want) {
			t.Fatalf("verify output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
		t.Fatalf("verify created %s again", gone)
	}
	// Bad input is exit 2.
	if out, code := runTorrent(t, dir, "verify", "-dir", "nowhere", "x.torrent"); code != 2 || !strings.Contains(out, "not a directory") {
		t.Fatalf("verify -dir nowhere: exit %d\n%s", code, out)
	}
}

// info of a magnet link prints what the link says, as text and -json; a
// malformed link is exit 2.
func TestInfoMagnet(t *testing.T) {
	t.Parallel()
	link := "magnet:?xt=urn:btih:0102030405060708090a0b0c0d0e0f1011121314&dn=x%20y&tr=udp%3A%2F%2Ft%3A1&x.pe=127.0.0.1:5&ws=http%3A%2F%2Fw%2F&so=1,3-4"
	out, code := runTorrent(t, t.TempDir(), "info", link)
	for _, want := range []string{"name:         x y", "info-hash:    0102030405060708090a0b0c0d0e0f1011121314",
		"tracker:      udp://t:1", "peer:         127.0.0.1:5", "web seed:     http://w/", "files chosen: 1,3-4"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("info lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	out, code = runTorrent(t, t.TempDir(), "info", "-json", link)
	var got struct {
		Magnet   bool     `json:"magnet"`
		InfoHash string   `json:"info_hash"`
		Select   []string `json:"select"`
		WebSeeds []string `json:"web_seeds"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("info -json: exit %d, %v:\n%s", code, err, out)
	}
	if !got.Magnet || got.InfoHash != "0102030405060708090a0b0c0d0e0f1011121314" || len(got.Select) != 2 || got.Select[1] != "3-4" || got.WebSeeds[0] != "http://w/" {
		t.Fatalf("info -json: %+v", got)
	}
	if out, code := runTorrent(t, t.TempDir(), "info", "magnet:?xt=urn:btih:01"); code != 2 || !strings.Contains(out, "invalid magnet link") {
		t.Fatalf("a malformed link: exit %d\n%s", code, out)
	}
}
