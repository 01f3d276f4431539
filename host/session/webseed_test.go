package session

import (
	"context"
	"crypto/sha1"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// webTorrent writes a .torrent of path whose url-list is urls.
func webTorrent(t *testing.T, path string, urls ...string) string {
	t.Helper()
	data, err := metainfo.Create(path, metainfo.CreateOptions{PieceLength: 64 << 10, WebSeeds: urls})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "w.torrent")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// serveDir serves dir over HTTP on loopback with Go's net/http; slow, if
// set, delays each request.
func serveDir(t *testing.T, dir string, slow time.Duration) string {
	t.Helper()
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slow)
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// download runs a leecher of torrent into a new directory until complete.
func download(t *testing.T, torrent string, opts Options) (*Session, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	dir := t.TempDir()
	s := startSession(t, ctx, &wg, torrent, dir, opts)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("not complete in time: %+v", s.Stats().WebSeeds)
	}
	return s, dir
}

// Single- and multi-file torrents download from a web seed alone (no
// peer, no tracker), byte for byte, in each url-list layout of BEP 19.
func TestWebSeedOnlyDownload(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src) // tree/..., with an empty file and odd sizes
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "one file.bin", Size: 2<<20 + 333})
	url := serveDir(t, src, 0)
	for name, c := range map[string]struct {
		path, url string
	}{
		"single, URL of the file":   {"one file.bin", url + "/one%20file.bin"},
		"single, URL of its folder": {"one file.bin", url + "/"},
		"multi":                     {"tree", url},
		"multi, with a slash":       {"tree", url + "/"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			torrent := webTorrent(t, filepath.Join(src, c.path), c.url)
			s, dir := download(t, torrent, Options{Logger: testLogger(t, "client")})
			st := s.Stats()
			if !st.Complete || len(st.WebSeeds) != 1 || st.WebSeeds[0].Errors != 0 {
				t.Fatalf("complete %v, web seeds %+v", st.Complete, st.WebSeeds)
			}
			if c.path == "tree" {
				realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dir, "tree"))
			} else {
				realpeers.SameFiles(t, filepath.Join(src, c.path), filepath.Join(dir, c.path))
			}
		})
	}
}

// Python's http.server ignores Range and sends whole files: the client
// still gets the right bytes from it.
func TestWebSeedPythonHTTPServer(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "p.bin", Size: 700<<10 + 5})
	port := realpeers.FreePort(t)
	cmd := exec.Command("/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", src, strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/p.bin"
	for i := 0; ; i++ {
		resp, err := http.Head(url)
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("python http.server not up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	torrent := webTorrent(t, filepath.Join(src, "p.bin"), url)
	_, dir := download(t, torrent, Options{Logger: testLogger(t, "client")})
	realpeers.SameFiles(t, filepath.Join(src, "p.bin"), filepath.Join(dir, "p.bin"))
}

// A web seed and a libtorrent seeder together: both give data and the
// files come out identical.
func TestWebSeedWithLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	// Each seed slowed a little, so neither has it all before the other starts.
	torrent := webTorrent(t, filepath.Join(src, "tree"), serveDir(t, src, 20*time.Millisecond))
	lt := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 2 << 20})
	s, dir := download(t, torrent, Options{Logger: testLogger(t, "client"),
		Peers: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(lt.Port))}})
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dir, "tree"))
	st := s.Stats()
	web := st.WebSeeds[0].Downloaded
	if web == 0 || st.Downloaded-web == 0 || st.WebSeeds[0].Errors != 0 {
		t.Fatalf("downloaded %d bytes, %d of them from the web seed (%+v): want both sources used",
			st.Downloaded, web, st.WebSeeds[0])
	}
	t.Logf("%d bytes from the web seed, %d from libtorrent", web, st.Downloaded-web)
}

// padTorrent writes, under src/pt, two files with a BEP 47 pad file
// between them (as libtorrent's hybrids have: attr "p", path .pad/N,
// never on a web seed) and a torrent of them whose url-list is url.
func padTorrent(t *testing.T, src, url string) string {
	t.Helper()
	const pl = 16 << 10
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "pt/a.bin", Size: 40000}, realpeers.FileSpec{Path: "pt/b.bin", Size: 30000})
	a, _ := os.ReadFile(filepath.Join(src, "pt/a.bin"))
	b, _ := os.ReadFile(filepath.Join(src, "pt/b.bin"))
	pad := 3*pl - len(a)
	all := append(append(append([]byte{}, a...), make([]byte, pad)...), b...)
	var pieces []byte
	for off := 0; off < len(all); off += pl {
		h := sha1.Sum(all[off:min(off+pl, len(all))])
		pieces = append(pieces, h[:]...)
	}
	info := map[string]any{"name": "pt", "piece length": pl, "pieces": string(pieces), "files": []any{
		map[string]any{"length": len(a), "path": []string{"a.bin"}},
		map[string]any{"length": pad, "path": []string{".pad", strconv.Itoa(pad)}, "attr": "p"},
		map[string]any{"length": len(b), "path": []string{"b.bin"}},
	}}
	data, err := bencode.Marshal(map[string]any{"info": info, "url-list": url})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pt.torrent")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// A BEP 47 pad file is never asked of a web seed (none has it): its bytes
// are zeros, and the real files come out identical from the web seed
// alone.
func TestWebSeedSkipsPadFiles(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	var asked []string
	var mu sync.Mutex
	fs := http.FileServer(http.Dir(src))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	torrent := padTorrent(t, src, srv.URL)
	s, dir := download(t, torrent, Options{Logger: testLogger(t, "client")})
	realpeers.SameFiles(t, filepath.Join(src, "pt"), filepath.Join(dir, "pt"))
	if st := s.Stats(); st.WebSeeds[0].Errors != 0 {
		t.Fatalf("web seed errors: %+v", st.WebSeeds[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 {
		t.Fatal("the web seed was never asked")
	}
	for _, p := range asked {
		if strings.Contains(p, ".pad") {
			t.Fatalf("a pad file was asked of the web seed: %s", p)
		}
	}
}
