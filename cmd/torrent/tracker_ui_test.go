package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

// A tracker that answers with a web page, seen as a user sees it: the
// terminal UI's tracker line and its log say "not a bencoded reply", the
// line says when it will try again, neither shows the query string or the
// passkey, and the download from the peer the user gave goes on to the end.
func TestTerminalUIShowsTrackerFault(t *testing.T) {
	t.Parallel()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html><html><body><h1>It works!</h1></body></html>")
	}))
	defer html.Close()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "u/a.bin", Size: 4 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "u"), html.URL+"/announce?passkey=s3cr3t", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	bin := filepath.Join(testbin.Build(t), "torrent")
	dst := t.TempDir()
	exitFile := filepath.Join(t.TempDir(), "exit")
	cmd := fmt.Sprintf("%s -dht=false -lsd=false -g -up-rate 0 -peer 127.0.0.1:%d -dir %s %s; echo $? > %s", bin, seeder.Port, dst, torrent, exitFile)
	s := startTmux(t, 120, 30, cmd)

	want := "tracker " + html.URL + "/announce?… · not a bencoded reply · next "
	scr := s.waitScreen("the tracker's fault", 30*time.Second, func(scr string) bool { return strings.Contains(scr, want) })
	for _, leak := range []string{"s3cr3t", "info_hash", "peer_id", "Get \""} {
		if strings.Contains(scr, leak) {
			t.Fatalf("the screen shows %q:\n%s", leak, scr)
		}
	}
	s.keys("C-z")
	scr = s.waitScreen("the log's line", 10*time.Second, func(scr string) bool {
		return strings.Contains(scr, "announce failed") && strings.Contains(scr, "not a bencoded reply")
	})
	if strings.Contains(scr, "s3cr3t") {
		t.Fatalf("the log shows the passkey:\n%s", scr)
	}
	s.keys("C-z")
	s.waitScreen("completion", 60*time.Second, func(scr string) bool { return strings.Contains(scr, "complete · seeding") })
	s.keys("q")
	if code := waitExit(t, s, exitFile, 20*time.Second); code != "0" {
		t.Fatalf("exit code %s after q; screen:\n%s", code, s.screen())
	}
	realpeers.SameFiles(t, filepath.Join(src, "u"), filepath.Join(dst, "u"))
}
