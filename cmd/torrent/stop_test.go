package main

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
)

// startWithPlugins starts the client with the picker and torfs plugins
// on a torrent it has no peer for, and waits until both run.
func startWithPlugins(t *testing.T, mnt string) *client {
	t.Helper()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "c/a.bin", Size: 1 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "c"), "", 16)
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() }) // if the test fails while mounted
	c := startClient(t, "-picker", "random", "-dir", t.TempDir(), "-torfs", mnt, torrent)
	c.waitFor(regexp.MustCompile(`picker plugin running`), 30*time.Second)
	c.waitFor(regexp.MustCompile(`torfs: mounted`), 30*time.Second)
	return c
}

// A stop we asked for is clean: a signal to the client's process group
// (ctrl-c in a terminal, a service manager or timeout(1) stopping it)
// reaches the plugins too, yet the client exits 0, unmounts, and logs no
// error. Before the fix the plugins died of the SIGTERM first and the log
// said "[ERROR] ... plugin process exited ... signal: terminated".
func TestCleanStop(t *testing.T) {
	t.Parallel()
	// Under nohup the client inherits an ignored HUP and rightly keeps it
	// ignored (stopSignals); a HUP this process catches is the default
	// again in the clients it starts (execve), as from a terminal.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(hup) })
	tests := map[string]struct {
		sig   syscall.Signal
		group bool
	}{
		"SIGTERM to the process group": {syscall.SIGTERM, true},
		"SIGINT to the process group":  {syscall.SIGINT, true},
		"SIGTERM to the client":        {syscall.SIGTERM, false},
		"SIGHUP to the process group":  {syscall.SIGHUP, true}, // its terminal closed
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mnt := t.TempDir()
			c := startWithPlugins(t, mnt)
			pid := c.cmd.Process.Pid
			if tc.group {
				pid = -pid // startClient gives the client a process group of its own
			}
			if err := syscall.Kill(pid, tc.sig); err != nil {
				t.Fatal(err)
			}
			c.wait(30*time.Second, 0)
			if out := c.output(); strings.Contains(out, "[ERROR]") {
				t.Fatalf("an error logged on a stop we asked for:\n%s", out)
			}
			if isMounted(mnt) {
				t.Fatal("still mounted after the stop")
			}
		})
	}
}

// A plugin that dies on its own is still an error in the log, named, and
// the client goes on and stops cleanly.
func TestPluginDeathIsLogged(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	c := startWithPlugins(t, mnt)
	for _, comm := range []string{"torrent-picker", "torrent-torfs"} {
		pids := pluginPIDs(t, c.cmd.Process.Pid, comm)
		if len(pids) == 0 {
			t.Fatalf("no %s process under the client", comm)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	c.waitFor(regexp.MustCompile(`\[ERROR\] +torrent\.picker: plugin process exited: .*signal: killed`), 30*time.Second)
	c.waitFor(regexp.MustCompile(`\[ERROR\] +torrent\.torfs: plugin process exited: .*signal: killed`), 30*time.Second)
	c.waitFor(regexp.MustCompile(`torfs plugin exited; the mount is gone`), 30*time.Second)
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGTERM)
	c.wait(30*time.Second, 0)
	if isMounted(mnt) {
		t.Fatal("still mounted after the torfs plugin died and the client stopped")
	}
}
