package magnet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// ltRead has libtorrent's parse_magnet_uri read link.
func ltRead(t *testing.T, link string) (r struct {
	V1, Name          string
	Trackers, WebSeed []string
	Peers             []string
	Priorities        []int
}) {
	t.Helper()
	script := `import sys, json, libtorrent as lt
p = lt.parse_magnet_uri(sys.argv[1])
peers = ["[%s]:%d" % a if ":" in a[0] else "%s:%d" % a for a in p.peers]
print(json.dumps({"V1": str(p.info_hashes.v1), "Name": p.name, "Trackers": list(p.trackers),
    "WebSeed": list(p.url_seeds), "Peers": peers, "Priorities": [int(x) for x in p.file_priorities]}))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, link).CombinedOutput()
	if err != nil {
		t.Fatalf("libtorrent parse_magnet_uri: %v\n%s", err, out)
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

// libtorrent reads what String writes as we mean it.
func TestLibtorrentReadsString(t *testing.T) {
	t.Parallel()
	m := &Magnet{
		InfoHash: [20]byte{0xc1, 0x2f, 0xe1, 0xc0, 0x6b, 0xba, 0x25, 0x4a, 0x9d, 0xc9, 0xf5, 0x19, 0xb3, 0x35, 0xaa, 0x7c, 0x13, 0x67, 0xa8, 0x8a},
		Name:     "a name & more+plus/ü",
		Trackers: []string{"http://127.0.0.1:6969/announce?x=1&y=2", "udp://127.0.0.1:1337"},
		Peers:    []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:6881"), netip.MustParseAddrPort("[::1]:7000")},
		WebSeeds: []string{"http://127.0.0.1:8080/files/a b/"},
		Select:   []Range{{0, 0}, {2, 3}},
	}
	got := ltRead(t, m.String())
	if got.V1 != hex.EncodeToString(m.InfoHash[:]) || got.Name != m.Name {
		t.Errorf("libtorrent read info-hash %s, name %q", got.V1, got.Name)
	}
	if !reflect.DeepEqual(got.Trackers, m.Trackers) || !reflect.DeepEqual(got.WebSeed, m.WebSeeds) {
		t.Errorf("libtorrent read trackers %q, web seeds %q", got.Trackers, got.WebSeed)
	}
	if want := []string{"127.0.0.1:6881", "[::1]:7000"}; !reflect.DeepEqual(got.Peers, want) {
		t.Errorf("libtorrent read peers %q, want %q", got.Peers, want)
	}
	// so=0,2-3: files 0, 2 and 3 at the default priority 4, file 1 off.
	if want := []int{4, 0, 4, 4}; !reflect.DeepEqual(got.Priorities, want) {
		t.Errorf("libtorrent read so as priorities %v, want %v", got.Priorities, want)
	}
}

// We read the links libtorrent's make_magnet_uri writes: a hybrid's
// btih and btmh, and a v2-only torrent's lone btmh as ErrV2Only.
func TestParseLibtorrentLinks(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "x/one.bin", Size: 100000}, realpeers.FileSpec{Path: "x/two.bin", Size: 7})
	link := func(torrent string) (string, string) {
		out, err := exec.Command("/usr/bin/python3", "-c", `import sys, libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
print(lt.make_magnet_uri(ti))
print(ti.info_hashes().v2.to_bytes().hex())`, torrent).CombinedOutput()
		if err != nil {
			t.Fatalf("make_magnet_uri: %v\n%s", err, out)
		}
		l, v2, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return l, v2
	}
	hybrid := realpeers.MakeLibtorrentTorrent(t, filepath.Join(src, "x"), realpeers.LTHybrid)
	l, v2 := link(hybrid)
	m, err := Parse(l)
	if err != nil {
		t.Fatalf("Parse(%q): %v", l, err)
	}
	mi, err := metainfo.Load(hybrid)
	if err != nil {
		t.Fatal(err)
	}
	if m.InfoHash != mi.InfoHash || hex.EncodeToString(m.V2Hash) != v2 || m.Name != "x" {
		t.Fatalf("from %q: info-hash %x (want %x), v2 %x (want %s), name %q", l, m.InfoHash, mi.InfoHash, m.V2Hash, v2, m.Name)
	}
	v2only := realpeers.MakeLibtorrentTorrent(t, filepath.Join(src, "x"), realpeers.LTV2Only)
	l, _ = link(v2only)
	if _, err := Parse(l); !errors.Is(err, metainfo.ErrV2Only) {
		t.Fatalf("Parse(%q) = %v, want ErrV2Only", l, err)
	}
}
