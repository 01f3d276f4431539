package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

// The terminal UI's views on a real download from libtorrent: each number
// key shows its view with live values (the seeder's address in peers, the
// torrent's files, the dead tracker's short reason), and the screen
// follows a resize to 60x15 without losing the view.
func TestTerminalUIViews(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "v/alpha.bin", Size: 24 << 20}, realpeers.FileSpec{Path: "v/beta.txt", Size: 1000})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "v"), "", 16) // announce: a dead loopback tracker
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 512 << 10})
	bin := filepath.Join(testbin.Build(t), "torrent")
	dst := t.TempDir()
	exitFile := filepath.Join(t.TempDir(), "exit")
	logFile := filepath.Join(t.TempDir(), "log")
	cmd := fmt.Sprintf("%s -dht=false -lsd=false -g -log %s -up-rate 0 -peer 127.0.0.1:%d -dir %s %s; echo $? > %s", bin, logFile, seeder.Port, dst, torrent, exitFile)
	s := startTmux(t, 100, 30, cmd)
	s.waitScreen("the main view", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (2)") && percent(scr) >= 0 })

	seederAddr := fmt.Sprintf("127.0.0.1:%d", seeder.Port)
	views := []struct {
		key, what string
		want      []string
	}{
		{"2", "the peers view with the seeder", []string{"Peers (1 connected", seederAddr, "libtorrent", "sorted by down rate"}},
		{"3", "the files view", []string{"Files (2,", "v/alpha.bin", "v/beta.txt", "24.0 MiB"}},
		{"4", "the trackers view with the dead tracker's reason", []string{"Trackers (1)", "http://127.0.0.1:1/announce", "connection refused"}},
		{"5", "the rates view", []string{"Download  now", "Upload  now", "over "}},
		{"6", "the log view", []string{"Log", "[INFO]"}},
		{"?", "the keys", []string{"Keys", "peers view: sort"}},
	}
	for _, v := range views {
		s.keys(v.key)
		s.waitScreen(v.what, 20*time.Second, func(scr string) bool {
			for _, w := range v.want {
				if !strings.Contains(scr, w) {
					return false
				}
			}
			return true
		})
		if v.key == "?" {
			s.keys("?") // any key closes the help
		}
	}
	s.keys("2", "s")
	s.waitScreen("the peers sorted by up rate", 10*time.Second, func(scr string) bool { return strings.Contains(scr, "sorted by up rate") })
	if out, err := s.tmux("resize-window", "-x", "60", "-y", "15"); err != nil {
		t.Fatalf("resize: %v\n%s", err, out)
	}
	s.waitScreen("the peers view at 60x15", 10*time.Second, func(scr string) bool {
		lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
		return len(lines) == 15 && strings.Contains(scr, seederAddr) && strings.Contains(lines[14], "peers") && strings.Contains(lines[14], "? keys")
	})
	s.keys("q")
	if code := waitExit(t, s, exitFile, 20*time.Second); code != "0" {
		t.Fatalf("exit code %s after q; screen:\n%s", code, s.screen())
	}
}
