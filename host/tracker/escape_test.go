package tracker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/testtracker"
)

// spaceTorrent makes torrents of one small file with mktorrent, changing
// the source string (-s, part of the info dictionary) until the info-hash
// holds byte 0x20, as about one torrent in 13 does.
func spaceTorrent(t *testing.T) *metainfo.MetaInfo {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(data, bytes.Repeat([]byte("0x20 "), 8000), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		tp := filepath.Join(dir, fmt.Sprintf("t%d.torrent", i))
		out, err := exec.Command("mktorrent", "-l", "15", "-s", fmt.Sprintf("source-%d", i),
			"-a", "http://127.0.0.1:1/announce", "-o", tp, data).CombinedOutput()
		if err != nil {
			t.Fatalf("mktorrent: %v: %s", err, out)
		}
		m, err := metainfo.Load(tp)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(m.InfoHash[:], ' ') >= 0 {
			return m
		}
	}
	t.Fatal("no info-hash with byte 0x20 in 500 sources")
	return nil
}

// A real torrent whose info-hash holds 0x20, announced to the real
// opentracker: the second peer learns of the first. url.QueryEscape's "+"
// for that byte is first shown to fail, so the test holds the bug it pins.
func TestOpentrackerInfoHashWithSpace(t *testing.T) {
	t.Parallel()
	m := spaceTorrent(t)
	tr := testtracker.Start(t, m.InfoHash)

	plus := tr.HTTP + "?info_hash=" + url.QueryEscape(string(m.InfoHash[:])) +
		"&peer_id=-QE0000-000000000000&port=7200&left=1&compact=1"
	if !strings.Contains(plus, "+") {
		t.Fatalf("QueryEscape gave no '+' for %x", m.InfoHash)
	}
	resp, err := http.Get(plus)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("not authorized")) {
		t.Fatalf("opentracker took '+' for 0x20 (%q): the test no longer shows the bug", body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := Request{InfoHash: m.InfoHash, PeerID: [20]byte{'-', 'T', 'Z', ' ', '+', '%'}, Port: 7201, Left: 1, Event: Started, NumWant: 50}
	if _, err := Announce(ctx, tr.HTTP, a); err != nil {
		t.Fatalf("announce %x: %v", m.InfoHash, err)
	}
	b := a
	b.PeerID[19], b.Port = 'b', 7202
	r, err := Announce(ctx, tr.HTTP, b)
	if err != nil {
		t.Fatalf("announce %x: %v", m.InfoHash, err)
	}
	want := netip.MustParseAddrPort("127.0.0.1:7201")
	if !slices.Contains(r.Peers, want) {
		t.Fatalf("second peer got %s, without the first, %s", fmtPeers(r.Peers), want)
	}
}
