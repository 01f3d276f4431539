package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/tmpfs"
)

var summaryRe = regexp.MustCompile(`session summary: downloaded=(\d+) uploaded=\d+ wasted=(\d+) verified=(\d+)`)

// The binary downloading onto a tmpfs smaller than the torrent: its
// progress line and torrent status say the disk is full, and once the
// filesystem grows it finishes and exits 0 by itself.
func TestDiskFullConsole(t *testing.T) {
	t.Parallel()
	fs := tmpfs.Mount(t, "4m") // first: unmounted after the client is gone
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	c := startClient(t, "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", fs.Dir, torrent)
	dir := regexp.QuoteMeta(fs.Dir)
	c.waitFor(regexp.MustCompile(`WARN.*disk full at `+dir+`: downloading paused`), time.Minute)
	c.waitFor(regexp.MustCompile(`progress: status=".*disk full at `+dir+`: retrying"`), time.Minute)
	// torrent status says it too, as its problem.
	want := "disk full at " + fs.Dir + ": retrying"
	statusJSON(t, fs.Dir, "the disk-full problem", func(v map[string]any) bool { return v["problem"] == want })
	if out, code := runTorrent(t, t.TempDir(), "status", fs.Dir); code != 0 || !strings.Contains(out, "problem   "+want+"\n") {
		t.Fatalf("status while the disk is full: exit %d, no problem line %q:\n%s", code, want, out)
	}
	fs.Resize("32m")
	c.waitFor(regexp.MustCompile(`downloading resumes`), time.Minute)
	c.wait(2*time.Minute, 0)
	// Duplicate blocks of the endgame aside, every byte came once: no
	// piece was fetched again.
	m := summaryRe.FindStringSubmatch(c.output())
	if m == nil || atoi(t, m[1])-atoi(t, m[2]) != atoi(t, m[3]) {
		t.Fatalf("session summary %q: downloaded less wasted should be what was verified", m)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(fs.Dir, "tree"))
}
