package swarm_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/webseed"
)

// webServer serves tr's single file "f" over HTTP on loopback with Go's
// net/http; wrap, if set, sits in front of the file server. hits counts
// the requests it got.
func webServer(t *testing.T, data []byte, wrap func(http.Handler) http.Handler) (url string, hits *atomic.Int64) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = http.FileServer(http.Dir(dir))
	if wrap != nil {
		h = wrap(h)
	}
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/f", hits
}

func webSeeds(t *testing.T, tr torrent, urls ...string) func(*swarm.Config) {
	l := webseed.Layout{Name: "f", Files: []webseed.File{{Path: []string{"f"}, Length: int64(len(tr.data))}}}
	var seeds []*webseed.Seed
	for _, u := range urls {
		s, err := webseed.New(u, l, webseed.Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, s)
	}
	return func(c *swarm.Config) { c.WebSeeds = seeds }
}

func TestDownloadFromWebSeedAlone(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	url, hits := webServer(t, tr.data, nil)
	s, _ := leechWith(t, tr, newLog().logger(), webSeeds(t, tr, url))
	st := s.Stats()
	if len(st.WebSeeds) != 1 || st.WebSeeds[0].Errors != 0 || st.WebSeeds[0].Downloaded < int64(len(tr.data)) {
		t.Fatalf("web seed stats %+v after a download of %d bytes", st.WebSeeds, len(tr.data))
	}
	if st.Verified != int64(len(tr.data)) || st.Wasted != 0 {
		t.Fatalf("verified %d, wasted %d; want %d and 0", st.Verified, st.Wasted, len(tr.data))
	}
	if hits.Load() == 0 {
		t.Fatal("the server saw no request")
	}
	found := false
	for _, p := range st.Peers {
		found = found || (p.Addr == url && p.Client == "web seed" && p.Pieces == numPieces)
	}
	if !found {
		t.Fatalf("the web seed is not in the peer list: %+v", st.Peers)
	}
}

// shortWriter writes at most left bytes of the body and drops the rest
// while claiming to have written it: the client sees a body shorter than
// its Content-Length.
type shortWriter struct {
	http.ResponseWriter
	left int
}

func (w *shortWriter) Write(p []byte) (int, error) {
	k := min(len(p), w.left)
	w.left -= k
	w.ResponseWriter.Write(p[:k])
	return len(p), nil
}

// Each bad web seed, next to a good one, is asked, fails, and is backed
// off; the download completes from the good one with every piece
// verified once and no bad piece counted as had.
func TestBadWebSeedBackedOff(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	wrong := make([]byte, len(tr.data))
	for i, b := range tr.data {
		wrong[i] = ^b
	}
	for name, c := range map[string]struct {
		data []byte
		wrap func(http.Handler) http.Handler
		want string // in the log's reason
	}{
		"404":         {tr.data, func(http.Handler) http.Handler { return http.NotFoundHandler() }, "404 Not Found"},
		"wrong bytes": {wrong, nil, "which failed its hash check"},
		"short bodies": {tr.data, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(&shortWriter{w, 1000}, r) })
		}, "short body"},
		"redirect loop": {tr.data, func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) })
		}, "too many redirects"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bad, badHits := webServer(t, c.data, c.wrap)
			// The good seed answers a little late, so the bad one gets its share of requests.
			good, _ := webServer(t, tr.data, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					time.Sleep(5 * time.Millisecond)
					h.ServeHTTP(w, r)
				})
			})
			log := newLog()
			s, _ := leechWith(t, tr, log.logger(), webSeeds(t, tr, bad, good))
			st := s.Stats()
			if badHits.Load() == 0 {
				t.Fatal("the bad seed was never asked")
			}
			b, g := st.WebSeeds[0], st.WebSeeds[1]
			if b.Errors == 0 || !strings.Contains(b.LastError, c.want) {
				t.Fatalf("bad seed: %+v, want errors mentioning %q", b, c.want)
			}
			if g.Errors != 0 {
				t.Fatalf("good seed failed: %+v", g)
			}
			if !log.contains("web seed failed; backing off: url=" + bad) {
				t.Fatalf("no backoff of %s in the log:\n%s", bad, log)
			}
			if log.contains("banning peer") {
				t.Fatalf("a web seed's failure banned a peer:\n%s", log)
			}
			// Every piece verified once: none of the bad seed's counted.
			if st.Verified != int64(len(tr.data)) {
				t.Fatalf("verified %d bytes of %d", st.Verified, len(tr.data))
			}
			if name == "wrong bytes" && (b.BadPieces == 0 || st.Wasted == 0) {
				t.Fatalf("wrong bytes not seen as bad pieces: %+v, wasted %d", b, st.Wasted)
			}
			if name != "wrong bytes" && b.Downloaded != 0 {
				t.Fatalf("the bad seed is credited with %d bytes", b.Downloaded)
			}
		})
	}
}

// A web seed whose server is down at first is tried again after its
// backoff and then serves the whole torrent.
func TestWebSeedRecoversAfterBackoff(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	var down atomic.Bool
	down.Store(true)
	url, _ := webServer(t, tr.data, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Swap(false) { // the first request only
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	log := newLog()
	s, _ := leechWith(t, tr, log.logger(), webSeeds(t, tr, url))
	if st := s.Stats(); st.WebSeeds[0].Errors != 1 || !strings.Contains(st.WebSeeds[0].LastError, "503") {
		t.Fatalf("web seed stats %+v, want one 503", st.WebSeeds[0])
	}
	if !log.contains("web seed: trying again") {
		t.Fatalf("no retry in the log:\n%s", log)
	}
}

// A web seed that sends wrong bytes, next to an honest peer on the same
// loopback IP as the web server: pieces with blocks of both fail, and
// only the seed is blamed, never the peer's IP.
func TestWrongWebSeedNeverBansPeers(t *testing.T) {
	t.Parallel()
	tr := newTorrent()
	wrong := make([]byte, len(tr.data))
	for i, b := range tr.data {
		wrong[i] = ^b
	}
	bad, _ := webServer(t, wrong, nil)
	good := seeder(t, tr, "127.0.0.1", 2*time.Millisecond)
	log := newLog()
	s, _ := leechWith(t, tr, log.logger(), webSeeds(t, tr, bad), good.Addr())
	st := s.Stats()
	if st.WebSeeds[0].BadPieces == 0 || st.Verified != int64(len(tr.data)) {
		t.Fatalf("web seed %+v, verified %d of %d", st.WebSeeds[0], st.Verified, len(tr.data))
	}
	if log.contains("banning peer") || good.Conns() != 1 {
		t.Fatalf("the honest peer was banned or dropped (%d connections):\n%s", good.Conns(), log)
	}
}
