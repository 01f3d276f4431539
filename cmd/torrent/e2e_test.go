package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/internal/testtracker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// client is a bin/torrent process under test, its output kept for
// assertions.
type client struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startClient(t *testing.T, args ...string) *client {
	t.Helper()
	return startBinary(t, filepath.Join(testbin.Build(t), "torrent"), args...)
}

// offline puts -dht=false and -lsd=false before a download's arguments,
// unless they have a flag of that name of their own: the DHT is on by
// default and would bootstrap from the public routers, local discovery
// would multicast to the network (and let tests of the same torrent meet),
// and no test reaches past loopback. Every test that runs the client goes
// through it (tests that run it from a shell command line in tmux write
// the flags themselves). A subcommand (create, info, ...) is left alone:
// it is a bare word, where a download starts with a flag, a path or a
// magnet link.
func offline(args []string) []string {
	if len(args) > 0 && regexp.MustCompile(`^[a-z]+$`).MatchString(args[0]) {
		return args
	}
	var pre []string
	for _, flag := range []string{"dht", "lsd"} {
		given := slices.ContainsFunc(args, func(a string) bool {
			return strings.HasPrefix(a, "-"+flag) || strings.HasPrefix(a, "--"+flag)
		})
		if !given {
			pre = append(pre, "-"+flag+"=false")
		}
	}
	return append(pre, args...)
}

// startBinary is startClient with another build of the client.
func startBinary(t *testing.T, bin string, args ...string) *client {
	t.Helper()
	c := &client{t: t, cmd: exec.Command(bin, offline(args)...), done: make(chan struct{})}
	c.cmd.Stdout = &lockedWriter{c: c}
	c.cmd.Stderr = &lockedWriter{c: c}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		if t.Failed() {
			t.Logf("torrent %s output:\n%s", strings.Join(args, " "), c.output())
		}
	})
	return c
}

type lockedWriter struct{ c *client }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.out.Write(p)
}

func (c *client) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// wait waits for exit and fails the test unless the exit code is want.
func (c *client) wait(timeout time.Duration, want int) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("torrent still running after %s", timeout)
	}
	if got := c.cmd.ProcessState.ExitCode(); got != want {
		c.t.Fatalf("exit code %d (%v), want %d", got, c.cmd.ProcessState, want)
	}
}

// waitFor polls the output until re matches; it returns the submatches.
func (c *client) waitFor(re *regexp.Regexp, timeout time.Duration) []string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(c.output()); m != nil {
			return m
		}
		select {
		case <-c.done:
			if m := re.FindStringSubmatch(c.output()); m != nil {
				return m
			}
			c.t.Fatalf("torrent exited before printing %q", re)
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.t.Fatalf("no %q in the output after %s", re, timeout)
	return nil
}

var (
	portRe       = regexp.MustCompile(`starting: .*port=(\d+)`)
	downloadedRe = regexp.MustCompile(`session summary: downloaded=(\d+)`)
	checkedRe    = regexp.MustCompile(`checked data on disk: pieces=(\d+) of=(\d+)`)
)

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Downloads the multi-file torrent from a real libtorrent seeder, directly
// (-peer, no tracker), byte-identical.
func TestLeechFromLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// Seeds the torrent to a real libtorrent leecher that connects to us.
func TestSeedToLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	port := realpeers.FreePort(t)
	c := startClient(t, "-up-rate", "0", "-port", strconv.Itoa(port), "-dir", src, torrent)
	c.waitFor(regexp.MustCompile(`checked data on disk`), 30*time.Second)
	dst := t.TempDir()
	leecher := realpeers.StartLibtorrentLeecher(t, torrent, dst, realpeers.LTOptions{ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatalf("libtorrent leecher: %v", err)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// Seeds to aria2, which finds us through the real opentracker.
func TestSeedToAria2ThroughOpentracker(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	m, err := metainfo.Load(realpeers.MakeTorrent(t, src, "", 18))
	if err != nil {
		t.Fatal(err)
	}
	tr := testtracker.Start(t, m.InfoHash) // the info-hash does not depend on the announce URL
	torrent := realpeers.MakeTorrent(t, src, tr.HTTP, 18)
	c := startClient(t, "-up-rate", "0", "-dir", src, torrent)
	c.waitFor(regexp.MustCompile(`checked data on disk`), 30*time.Second)
	dst := t.TempDir()
	leecher := realpeers.StartAria2Leecher(t, torrent, dst)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatalf("aria2: %v", err)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

// Two instances started at once pick different ports by themselves.
func TestTwoInstancesPickDifferentPorts(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "one.bin", Size: 1 << 20})
	torrent := realpeers.MakeTorrent(t, src, "", 16)
	a := startClient(t, "-dir", t.TempDir(), torrent)
	b := startClient(t, "-dir", t.TempDir(), torrent)
	pa := a.waitFor(portRe, 30*time.Second)[1]
	pb := b.waitFor(portRe, 30*time.Second)[1]
	if pa == pb {
		t.Fatalf("both instances listen on port %s", pa)
	}
}

// Killed with SIGKILL half way, a second start in the same directory keeps
// every verified piece: it downloads at most what was missing.
func TestResumeAfterKill(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "r/a.bin", Size: 6<<20 + 3}, realpeers.FileSpec{Path: "r/b.bin", Size: 3 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "r"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	peer := fmt.Sprintf("127.0.0.1:%d", seeder.Port)
	dst := t.TempDir()
	first := startClient(t, "-seed=false", "-up-rate", "0", "-peer", peer, "-dir", dst, "-v", torrent)
	// Wait for a few verified pieces, then kill without warning.
	waitPartial(t, dst, 3<<20)
	syscall.Kill(-first.cmd.Process.Pid, syscall.SIGKILL)
	<-first.done

	second := startClient(t, "-seed=false", "-up-rate", "0", "-peer", peer, "-dir", dst, torrent)
	second.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "r"), filepath.Join(dst, "r"))
	m := checkedRe.FindStringSubmatch(second.output())
	if m == nil {
		t.Fatal("no start-up check line in the second run's output")
	}
	kept, total := atoi(t, m[1]), atoi(t, m[2])
	if kept == 0 || kept == total {
		t.Fatalf("second run found %d of %d pieces on disk; the kill was not half way", kept, total)
	}
	d := downloadedRe.FindStringSubmatch(second.output())
	if d == nil {
		t.Fatal("no session summary in the second run's output")
	}
	const pieceLen = 1 << 16
	size := int64(9<<20 + 3)
	missing := size - kept*pieceLen
	got := atoi(t, d[1])
	if got > missing+8*pieceLen { // endgame may fetch a few blocks twice
		t.Fatalf("second run downloaded %d bytes; only %d were missing", got, missing)
	}
	t.Logf("second run found %d of %d pieces, downloaded %d bytes (%d missing)", kept, total, got, missing)
}

// waitPartial waits until at least n bytes of data are on disk under dir.
func waitPartial(t *testing.T, dir string, n int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var used int64
		filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					used += st.Blocks * 512
				}
			}
			return nil
		})
		if used >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("less than %d bytes on disk after a minute", n)
}

// pluginPIDs lists processes whose command name starts with comm
// ("torrent-picker", "torrent-torfs") and whose parent is parent (any
// parent for 0).
func pluginPIDs(t *testing.T, parent int, comm string) []int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "("+comm) {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && (parent == 0 || f[1] == strconv.Itoa(parent)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A picker plugin killed mid-download: the download completes anyway and
// the log names the plugin and the cause.
func TestPickerKilledMidDownload(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "p/a.bin", Size: 8 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "p"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 2 << 20})
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-picker", "random", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	var pids []int
	deadline := time.Now().Add(30 * time.Second)
	for len(pids) == 0 && time.Now().Before(deadline) {
		pids = pluginPIDs(t, c.cmd.Process.Pid, "torrent-picker")
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) == 0 {
		t.Fatal("no torrent-picker-random process under the client")
	}
	waitPartial(t, dst, 1<<20)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "p"), filepath.Join(dst, "p"))
	out := c.output()
	if !regexp.MustCompile(`picker plugin failed.*plugin=random .*cause=.*plugin process exited`).MatchString(out) {
		t.Fatalf("the log does not say the picker plugin died:\n%s", out)
	}
}

// kill -9 of the host leaves no plugin process behind.
func TestNoPluginOutlivesHost(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "k/a.bin", Size: 4 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "k"), "", 16)
	c := startClient(t, "-picker", "random", "-dir", t.TempDir(), torrent)
	var pids []int
	deadline := time.Now().Add(30 * time.Second)
	for len(pids) == 0 && time.Now().Before(deadline) {
		pids = pluginPIDs(t, c.cmd.Process.Pid, "torrent-picker")
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) == 0 {
		t.Fatal("no picker plugin process started")
	}
	c.cmd.Process.Kill() // the host only, not its process group
	<-c.done
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		alive := 0
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("picker plugin %v still running 5 s after the host was killed", pids)
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}
