package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

// The files view in a real terminal: the cursor starts on the first
// file, space skips it, j and + make the next one high priority, and the
// download from libtorrent then completes (-seed=false) with the other
// files only, identical to the seeder's; the skipped one is not finished.
func TestTerminalUIFilesChooseAndPriority(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "v/a.bin", Size: 6 << 20}, realpeers.FileSpec{Path: "v/b.bin", Size: 2 << 20},
		realpeers.FileSpec{Path: "v/c.txt", Size: 1000})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "v"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 512 << 10})
	bin := filepath.Join(testbin.Build(t), "torrent")
	dst := t.TempDir()
	exitFile := filepath.Join(t.TempDir(), "exit")
	logFile := filepath.Join(t.TempDir(), "log")
	cmd := fmt.Sprintf("%s -dht=false -lsd=false -g -seed=false -log %s -up-rate 0 -peer 127.0.0.1:%d -dir %s %s; echo $? > %s",
		bin, logFile, seeder.Port, dst, torrent, exitFile)
	s := startTmux(t, 100, 30, cmd)
	s.waitScreen("the main view", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (3)") })
	s.keys("3")
	s.waitScreen("the files view, cursor on a.bin", 10*time.Second, func(scr string) bool {
		return lineWith(scr, "v/a.bin") != "" && strings.HasPrefix(lineWith(scr, "v/a.bin"), ">")
	})
	s.keys("Space")
	s.waitScreen("a.bin skipped", 10*time.Second, func(scr string) bool {
		return strings.Contains(lineWith(scr, "v/a.bin"), "skipped") && strings.Contains(scr, "1 skipped")
	})
	s.keys("j", "+")
	s.waitScreen("b.bin high, the cursor on it", 10*time.Second, func(scr string) bool {
		l := lineWith(scr, "v/b.bin")
		return strings.HasPrefix(l, ">") && strings.Contains(l, "[high] v/b.bin")
	})
	if code := waitExit(t, s, exitFile, 2*time.Minute); code != "0" {
		t.Fatalf("exit code %s; screen:\n%s", code, s.screen())
	}
	for _, f := range []string{"v/b.bin", "v/c.txt"} {
		if err := sameFile(filepath.Join(src, f), filepath.Join(dst, f)); err != nil {
			t.Error(err)
		}
	}
	if sameFile(filepath.Join(src, "v/a.bin"), filepath.Join(dst, "v/a.bin")) == nil {
		t.Error("a.bin was fetched whole though skipped at once")
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"file selection changed: file=v/a.bin skipped=true", "file=v/b.bin skipped=false priority=high"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log has no %q:\n%s", want, log)
		}
	}
}

// lineWith is the first screen line containing s, or "".
func lineWith(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
