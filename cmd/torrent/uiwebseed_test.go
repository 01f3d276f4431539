package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

// The terminal UI's peers view lists a web seed, by its URL without the
// scheme, as a "web seed" with its download rate.
func TestTerminalUIWebSeed(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "w/a.bin", Size: 16 << 20})
	fs := http.FileServer(http.Dir(src))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // a download that lasts while the test looks
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	bin := filepath.Join(testbin.Build(t), "torrent")
	if out, code := runTorrent(t, src, "create", "-w", srv.URL+"/", "-piece-length", "64KiB", "-o", "w.torrent", "w"); code != 0 {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	exitFile := filepath.Join(t.TempDir(), "exit")
	cmd := fmt.Sprintf("%s -g -dir %s %s; echo $? > %s", bin, t.TempDir(), filepath.Join(src, "w.torrent"), exitFile)
	s := startTmux(t, 100, 30, cmd)
	s.waitScreen("the main view", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (1)") })
	s.keys("2")
	host := strings.TrimPrefix(srv.URL, "http://") + "/"
	row := regexp.MustCompile(regexp.QuoteMeta(host) + `\s+web seed\s+\S*\s+[0-9.]+ [KM]iB/s`)
	s.waitScreen("the web seed with a rate in the peers view", 30*time.Second, func(scr string) bool { return row.MatchString(scr) })
	s.keys("q")
	if code := waitExit(t, s, exitFile, 20*time.Second); code != "0" {
		t.Fatalf("exit code %s after q; screen:\n%s", code, s.screen())
	}
}
