package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/sdk"
)

// tmuxSession runs a command in a detached tmux on its own server socket.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	return startTmuxSocket(t, fmt.Sprintf("torrent-test-%d", time.Now().UnixNano()), w, h, command)
}

// startTmuxSocket is startTmux on a server socket the command may use too.
func startTmuxSocket(t *testing.T, socket string, w, h int, command string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: socket}
	if out, err := s.tmux("new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.tmux("kill-server") })
	return s
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxSession) screen() string {
	out, _ := s.tmux("capture-pane", "-p")
	return out
}

func (s *tmuxSession) keys(k ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys"}, k...)...); err != nil {
		s.t.Fatalf("send-keys: %v\n%s", err, out)
	}
}

// waitScreen polls the screen until ok says yes.
func (s *tmuxSession) waitScreen(what string, timeout time.Duration, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := s.screen()
		if ok(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %s; last screen:\n%s", what, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// percent reads the progress percentage off the main view's bar line.
func percent(screen string) float64 {
	for _, l := range strings.Split(screen, "\n") {
		i := strings.Index(l, "%")
		if i < 0 || !strings.ContainsAny(l, "█░") {
			continue
		}
		if f := strings.Fields(l[:i]); len(f) > 0 {
			var v float64
			if _, err := fmt.Sscanf(f[len(f)-1], "%g", &v); err == nil {
				return v
			}
		}
	}
	return -1
}

// The terminal UI end to end: progress advances to complete, ctrl-z shows
// the log and comes back, q quits the whole client with exit code 0 and no
// plugin process left.
func TestTerminalUI(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "u/a.bin", Size: 6 << 20}, realpeers.FileSpec{Path: "u/b.txt", Size: 1000})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "u"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	bin := filepath.Join(testbin.Build(t), "torrent")
	dst := t.TempDir()
	exitFile := filepath.Join(t.TempDir(), "exit")
	logFile := filepath.Join(t.TempDir(), "log")
	cmd := fmt.Sprintf("%s -dht=false -lsd=false -g -log %s -up-rate 0 -peer 127.0.0.1:%d -dir %s %s; echo $? > %s", bin, logFile, seeder.Port, dst, torrent, exitFile)
	s := startTmux(t, 100, 30, cmd)

	first := percent(s.waitScreen("the main view", 30*time.Second, func(scr string) bool {
		return strings.Contains(scr, "Files (2)") && percent(scr) >= 0
	}))
	s.waitScreen("progress", 30*time.Second, func(scr string) bool { p := percent(scr); return p > first && p < 100 })
	s.waitScreen("completion", 60*time.Second, func(scr string) bool { return strings.Contains(scr, "complete · seeding") })
	s.keys("C-z")
	s.waitScreen("the log view", 10*time.Second, func(scr string) bool {
		return strings.Contains(scr, "Log") && strings.Contains(scr, "[INFO]") && !strings.Contains(scr, "Files (2)")
	})
	s.keys("C-z")
	s.waitScreen("the main view again", 10*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (2)") })
	// This client's plugins, not those of tests running alongside.
	plugins := childrenOf(processesNamed(bin+"-"), dst)
	if len(plugins) < 2 {
		t.Fatalf("want the picker and UI plugin processes, found %v", plugins)
	}
	s.keys("q")
	if code := waitExit(t, s, exitFile, 20*time.Second); code != "0" {
		t.Fatalf("exit code %s after q; screen:\n%s", code, s.screen())
	}
	realpeers.SameFiles(t, filepath.Join(src, "u"), filepath.Join(dst, "u"))
	noErrors(t, logFile) // q is a stop we asked for
	var left []int
	for _, pid := range plugins {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.HasPrefix(exe, bin+"-") {
			left = append(left, pid)
		}
	}
	if len(left) > 0 {
		t.Fatalf("plugin processes left after quitting: %v", left)
	}
}

// waitExit waits for the exit code the tmux command writes.
func waitExit(t *testing.T, s *tmuxSession, exitFile string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(exitFile); err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client did not exit; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The UI plugin killed mid-download: the download completes and the
// console output takes over, saying why.
func TestTerminalUIKilled(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "k/a.bin", Size: 5 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "k"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	bin := filepath.Join(testbin.Build(t), "torrent")
	dst := t.TempDir()
	exitFile := filepath.Join(t.TempDir(), "exit")
	cmd := fmt.Sprintf("%s -dht=false -lsd=false -g -seed=false -up-rate 0 -peer 127.0.0.1:%d -dir %s %s; echo $? > %s; sleep 60", bin, seeder.Port, dst, torrent, exitFile)
	s := startTmux(t, 100, 30, cmd)
	s.waitScreen("the main view", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (1)") })
	var ui []int
	for deadline := time.Now().Add(10 * time.Second); len(ui) == 0 && time.Now().Before(deadline); {
		ui = childrenOf(processesNamed(bin+"-ui-term"), dst) // other tests run the same binary
		time.Sleep(50 * time.Millisecond)
	}
	if len(ui) == 0 {
		t.Fatal("no torrent-ui-term process")
	}
	for _, pid := range ui {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if code := waitExit(t, s, exitFile, 60*time.Second); code != "0" {
		t.Fatalf("exit code %s", code)
	}
	scr, _ := s.tmux("capture-pane", "-p", "-J", "-S", "-200") // with the scrollback, lines joined
	if !strings.Contains(scr, "terminal UI plugin failed") || !strings.Contains(scr, "complete") {
		t.Fatalf("the console did not take over:\n%s", scr)
	}
	realpeers.SameFiles(t, filepath.Join(src, "k"), filepath.Join(dst, "k"))
}

// noErrors fails the test if the log file has an [ERROR] line.
func noErrors(t *testing.T, logFile string) {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "[ERROR]") {
		t.Fatalf("an error logged on a stop we asked for:\n%s", b)
	}
}

// SIGTERM to the client's process group while the UI owns the terminal
// (a service manager or timeout(1) stopping it): the UI plugin gets it too,
// yet the client exits 0 and logs no error.
func TestTerminalUIStoppedBySignal(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "s/a.bin", Size: 1 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "s"), "", 16)
	bin := filepath.Join(testbin.Build(t), "torrent")
	dst := t.TempDir()
	exitFile := filepath.Join(t.TempDir(), "exit")
	logFile := filepath.Join(t.TempDir(), "log")
	// set -m gives the client a process group of its own in the
	// terminal's foreground, as an interactive shell does.
	cmd := fmt.Sprintf("bash -c 'set -m; %s -dht=false -lsd=false -g -log %s -picker random -dir %s %s; echo $? > %s'; sleep 60", bin, logFile, dst, torrent, exitFile)
	s := startTmux(t, 100, 30, cmd)
	s.waitScreen("the main view", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (1)") })
	host := clientPids(bin, dst)
	if len(host) != 1 {
		t.Fatalf("want one client process, found %v", host)
	}
	if len(childrenOf(processesNamed(bin+"-ui-term"), dst)) == 0 {
		t.Fatal("no torrent-ui-term process")
	}
	syscall.Kill(-host[0], syscall.SIGTERM)
	if code := waitExit(t, s, exitFile, 30*time.Second); code != "0" {
		t.Fatalf("exit code %s after SIGTERM", code)
	}
	noErrors(t, logFile)
}

// A UI plugin started by hand in debug mode (as under a debugger, in its
// own terminal): the client, started with -ui-reattach and no terminal of
// its own, shows in it, and q there quits the client.
func TestTerminalUIDebugReattach(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "d/a.bin", Size: 1 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "d"), "", 16)
	lineFile := filepath.Join(t.TempDir(), "out")
	// Its stdout is a pipe, as under go-plugin: the UI opens /dev/tty.
	s := startTmux(t, 100, 30, fmt.Sprintf("%s=1 %s | tee %s", sdk.DebugEnv, filepath.Join(testbin.Build(t), "torrent-ui-term"), lineFile))
	var reattach string
	for deadline := time.Now().Add(20 * time.Second); reattach == ""; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(lineFile)
		if m := reattachRe.FindStringSubmatch(string(b)); m != nil {
			reattach = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the debug-mode UI printed no reattach line; screen:\n%s", s.screen())
		}
	}
	c := startClient(t, "-ui-reattach", reattach, "-dir", t.TempDir(), torrent)
	s.waitScreen("the main view", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (1)") })
	s.keys("q")
	c.wait(30*time.Second, 0)
}

// childrenOf keeps the pids whose parent's command line mentions arg.
func childrenOf(pids []int, arg string) []int {
	var out []int
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", parentOf(pid)))
		if strings.Contains(string(cmdline), arg) {
			out = append(out, pid)
		}
	}
	return out
}

// clientPids lists the client processes (executable bin) run with dst on
// their command line. A plugin the client is starting is, between fork
// and exec, a copy of it: same executable, same command line; its parent
// is the client, so it is left out. A signal meant for the client would
// reach the plugin instead, which ignores SIGTERM (sdk.ignoreStopSignals).
func clientPids(bin, dst string) []int {
	var out []int
	for _, pid := range processesNamed(bin) {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		parent, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", parentOf(pid)))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if exe == bin && parent != bin && strings.Contains(string(cmdline), dst) {
			out = append(out, pid)
		}
	}
	return out
}

// parentOf is pid's parent, 0 if pid is gone.
func parentOf(pid int) int {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// processesNamed lists pids whose executable path starts with prefix.
func processesNamed(prefix string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, prefix) {
			var pid int
			fmt.Sscanf(e.Name(), "%d", &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}
