package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/proto/hostpb"
)

// statusJSON polls `torrent status -json DIR` until ok accepts it.
func statusJSON(t *testing.T, dir string, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var code int
		out, code = runTorrent(t, t.TempDir(), "status", "-json", dir)
		var v map[string]any
		if code == 0 && json.Unmarshal([]byte(out), &v) == nil && ok(v) {
			return v
		}
	}
	t.Fatalf("status never showed %s; last output:\n%s", what, out)
	return nil
}

// torrent status and torrent stop against a running client: progress,
// peers and rates from its socket (mode 0600, in its directory), a
// second client in the same directory says it is not the one answering
// and leaves the first's socket alone, stop ends the first with exit 0.
func TestStatusAndStop(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "s/a.bin", Size: 8 << 20}, realpeers.FileSpec{Path: "other/o.bin", Size: 100 << 10})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "s"), "", 16)
	other := realpeers.MakeTorrent(t, filepath.Join(src, "other"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 256 << 10})
	dst := t.TempDir()

	out, code := runTorrent(t, dst, "status")
	if code != 1 || !strings.Contains(out, "no torrent client is running in .") {
		t.Fatalf("status with no client: exit %d:\n%s", code, out)
	}
	c := startClient(t, "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	v := statusJSON(t, dst, "a download from the seeder", func(v map[string]any) bool {
		peers, _ := v["peers"].([]any)
		return v["state"] == "downloading" && len(peers) == 1 && v["down_rate"].(float64) > 0 && v["pieces_done"].(float64) > 0
	})
	tor := v["torrent"].(map[string]any)
	peer := v["peers"].([]any)[0].(map[string]any)
	if v["v"] != float64(1) || v["type"] != "status" || tor["name"] != "s" || tor["pieces"] != float64(128) || v["dir"] != dst ||
		peer["addr"] != fmt.Sprintf("127.0.0.1:%d", seeder.Port) || !strings.HasPrefix(peer["client"].(string), "libtorrent") ||
		v["eta"] == nil || v["problem"] != "" || v["tracker"].(map[string]any)["reason"] != "connection refused" {
		t.Fatalf("status: %v", v)
	}
	st, err := os.Stat(filepath.Join(dst, ".torrent.sock"))
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v %v", st.Mode(), err)
	}
	out, code = runTorrent(t, t.TempDir(), "status", dst)
	for _, want := range []string{"torrent   s (8.0 MiB, 128 pieces)", "downloading, ETA", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "peers     1 connected", "down "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("status: exit %d, no %q:\n%s", code, want, out)
		}
	}

	second := startClient(t, "-dir", dst, other)
	said := second.waitFor(regexp.MustCompile(`another client runs in this directory.* other=(\S+) pid=(\d+)`), 30*time.Second)
	if said[1] != "s" || said[2] != fmt.Sprint(c.cmd.Process.Pid) {
		t.Fatalf("the second client names %s, pid %s; the first is s, pid %d", said[1], said[2], c.cmd.Process.Pid)
	}
	second.cmd.Process.Signal(syscall.SIGTERM)
	second.wait(30*time.Second, 0)
	statusJSON(t, dst, "the first client, after the second left", func(v map[string]any) bool { return v["torrent"].(map[string]any)["name"] == "s" })

	out, code = runTorrent(t, t.TempDir(), "stop", dst)
	if code != 0 || !strings.Contains(out, "stopped s in "+dst) {
		t.Fatalf("stop: exit %d:\n%s", code, out)
	}
	c.wait(10*time.Second, 0) // stop saw it gone (a zombie); Wait reaps it
	if _, err := os.Stat(filepath.Join(dst, ".torrent.sock")); !os.IsNotExist(err) {
		t.Fatalf("socket left after stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, ".torrent-"+tor["info_hash"].(string)+".resume")); err != nil {
		t.Fatalf("no resume state after stop: %v", err)
	}
}

// A client killed with SIGKILL leaves its socket: status says nobody
// answers, and the next client in the directory replaces it.
func TestStatusStaleSocket(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "k/a.bin", Size: 1 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "k"), "", 16)
	dst := t.TempDir()
	c := startClient(t, "-dir", dst, torrent)
	statusJSON(t, dst, "the first client", func(v map[string]any) bool { return v["state"] == "stalled" })
	c.cmd.Process.Kill()
	c.wait(10*time.Second, -1)
	if _, err := os.Stat(filepath.Join(dst, ".torrent.sock")); err != nil {
		t.Fatalf("the killed client left no socket to test with: %v", err)
	}
	out, code := runTorrent(t, dst, "status")
	if code != 1 || !strings.Contains(out, "no torrent client answers in .") {
		t.Fatalf("status of a stale socket: exit %d:\n%s", code, out)
	}
	out, code = runTorrent(t, dst, "stop")
	if code != 1 || !strings.Contains(out, "no torrent client answers in .") {
		t.Fatalf("stop of a stale socket: exit %d:\n%s", code, out)
	}
	next := startClient(t, "-dir", dst, torrent)
	statusJSON(t, dst, "the next client", func(v map[string]any) bool { return v["state"] == "stalled" })
	if strings.Contains(next.output(), "another client") {
		t.Fatalf("the stale socket was taken for a live client:\n%s", next.output())
	}
	if out, code := runTorrent(t, dst, "stop"); code != 0 {
		t.Fatalf("stop: exit %d:\n%s", code, out)
	}
	next.wait(30*time.Second, 0)
}

// During a magnet link's metadata phase, status says so: state metadata,
// how far, and no percentage of pieces not known yet.
func TestStatusDuringMetadataPhase(t *testing.T) {
	t.Parallel()
	u := &hostpb.Update{Torrent: &hostpb.TorrentInfo{Name: "hello", InfoHash: "c808", Dir: "/data"}, KnownPeers: 1,
		Status: "fetching metadata: size not known yet, 0 peers (1 known)"}
	s, err := statusOf(u, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	if err != nil || s.State != "metadata" {
		t.Fatalf("statusOf: %+v, %v; want state metadata", s, err)
	}
	var b strings.Builder
	if err := printStatus(&b, s); err != nil {
		t.Fatal(err)
	}
	if want := "progress  0.0% (0/0 pieces), fetching metadata: size not known yet, 0 peers (1 known)\n"; !strings.Contains(b.String(), want) {
		t.Fatalf("status lacks %q:\n%s", want, b.String())
	}
}
