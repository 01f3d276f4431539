package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

// Every way the terminal UI can end leaves the terminal as it was found:
// the main screen back, cursor shown, no mouse or paste modes, the same
// tty mode (stty -g before and after), nothing of the UI on the screen,
// and every line the client printed after it starting on a line of its own.
func TestTerminalUIExitRestoresTerminal(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "x/a.bin", Size: 3 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "x"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	type action func(t *testing.T, s *tmuxSession, host, ui int)
	signal := func(sig syscall.Signal, which string) action {
		return func(t *testing.T, s *tmuxSession, host, ui int) {
			pid := host
			if which == "ui" {
				pid = ui
			}
			if err := syscall.Kill(pid, sig); err != nil {
				t.Fatalf("kill %s: %v", which, err)
			}
		}
	}
	keys := func(k string) action {
		return func(t *testing.T, s *tmuxSession, host, ui int) { s.keys(k) }
	}
	tests := map[string]struct {
		seeded    bool   // a seeder is there: -seed=false ends the run when complete
		act       action // nil: wait for the end of the download
		then      action // after the console took over, to end the client
		exit      string
		screen    []string // also on the screen after exit
		shellRace bool
	}{
		"done":       {seeded: true, exit: "0", screen: []string{"complete: name=x"}},
		"q":          {act: keys("q"), exit: "0"},
		"ctrl-c":     {act: keys("C-c"), exit: "0"},
		"SIGTERM":    {act: signal(syscall.SIGTERM, "host"), exit: "0"},
		"SIGINT":     {act: signal(syscall.SIGINT, "host"), exit: "0"},
		"UI killed":  {act: signal(syscall.SIGKILL, "ui"), then: signal(syscall.SIGTERM, "host"), exit: "0", screen: []string{"terminal UI plugin failed"}},
		"UI SIGTERM": {act: signal(syscall.SIGTERM, "ui"), then: signal(syscall.SIGTERM, "host"), exit: "0", screen: []string{"terminal UI plugin failed"}},
		// SIGHUP is also what the kernel sends the UI when the host dies.
		"UI SIGHUP": {act: signal(syscall.SIGHUP, "ui"), then: signal(syscall.SIGTERM, "host"), exit: "0", screen: []string{"terminal UI plugin failed"}},
		// The shell reports the kill at the moment the plugin starts to put
		// the terminal back: its "Killed" line may miss its line break.
		"host SIGKILLed": {act: signal(syscall.SIGKILL, "host"), exit: "137", shellRace: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var args string
			if tc.seeded {
				args = fmt.Sprintf("-seed=false -peer 127.0.0.1:%d", seeder.Port)
			}
			run := startUIRun(t, args, torrent)
			host, ui := run.pids(t)
			if tc.act != nil {
				tc.act(t, run.s, host, ui)
			}
			if tc.then != nil {
				run.s.waitScreen("the console taking over", 30*time.Second, func(scr string) bool {
					return strings.Contains(scr, "terminal UI plugin failed")
				})
				tc.then(t, run.s, host, ui)
			}
			if code := waitExit(t, run.s, run.exitFile, 60*time.Second); code != tc.exit {
				t.Fatalf("exit code %s, want %s; screen:\n%s", code, tc.exit, run.s.screen())
			}
			run.checkRestored(t, ui, tc.screen, !tc.shellRace)
		})
	}
}

// uiRun is the client with -g in a tmux pane of 100x30, wrapped in a shell
// line that saves the tty mode before and after.
type uiRun struct {
	s                  *tmuxSession
	bin, dst, exitFile string
	before, after      string
	channel            string // tmux wait-for channel the shell waits on before its last stty
}

func startUIRun(t *testing.T, args, torrent string) *uiRun {
	t.Helper()
	r := &uiRun{bin: filepath.Join(testbin.Build(t), "torrent"), dst: t.TempDir()}
	tmp := t.TempDir()
	r.exitFile, r.before, r.after = filepath.Join(tmp, "exit"), filepath.Join(tmp, "before"), filepath.Join(tmp, "after")
	r.channel = fmt.Sprintf("restored-%d", time.Now().UnixNano())
	socket := fmt.Sprintf("torrent-test-%d", time.Now().UnixNano())
	// The shell prints and reads the mode only once the test has seen the
	// UI plugin gone: after a SIGKILLed host it may restore the terminal
	// later than the shell would go on.
	cmd := fmt.Sprintf("stty -g > %s; %s -dht=false -lsd=false -g -up-rate 0 %s -dir %s %s; c=$?; echo $c > %s; tmux -L %s wait-for %s; echo \"exit=$c\"; stty -g > %s; sleep 60",
		r.before, r.bin, args, r.dst, torrent, r.exitFile, socket, r.channel, r.after)
	r.s = startTmuxSocket(t, socket, 100, 30, cmd)
	r.s.waitScreen("the main view", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "Files (") })
	// The modes the exit must undo are on: else the checks prove nothing.
	if flags, _ := r.s.tmux("display", "-p", "#{alternate_on} #{cursor_flag} #{mouse_button_flag}#{mouse_sgr_flag}"); strings.TrimSpace(flags) != "1 0 11" {
		t.Fatalf("while the UI runs: alternate screen, cursor, mouse button and SGR modes %q, want \"1 0 11\"", flags)
	}
	return r
}

// pids finds this run's host and UI plugin processes.
func (r *uiRun) pids(t *testing.T) (host, ui int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		uis := childrenOf(processesNamed(r.bin+"-ui-term"), r.dst)
		if hosts := clientPids(r.bin, r.dst); len(hosts) == 1 {
			host = hosts[0]
		}
		if host != 0 && len(uis) == 1 {
			return host, uis[0]
		}
	}
	t.Fatalf("no host and UI plugin processes for %s", r.dst)
	return 0, 0
}

var (
	logLine = regexp.MustCompile(`\[(INFO|WARN|ERROR|DEBUG)\]`)
	logHead = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} \[(INFO|WARN|ERROR|DEBUG)\]`)
)

// checkRestored waits for the UI plugin to be gone, lets the shell read
// the tty mode, and checks the terminal.
func (r *uiRun) checkRestored(t *testing.T, ui int, want []string, cleanLines bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", ui)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the UI plugin (pid %d) outlived the client", ui)
		}
	}
	if out, err := r.s.tmux("wait-for", "-S", r.channel); err != nil {
		t.Fatalf("wait-for: %v %s", err, out)
	}
	var after []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(r.after); err == nil && len(b) > 0 {
			after = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell never ran stty after the client; screen:\n%s", r.s.screen())
		}
	}
	before, _ := os.ReadFile(r.before)
	if string(before) != string(after) {
		t.Errorf("tty mode changed:\nbefore %safter  %s", before, after)
	}
	flags, _ := r.s.tmux("display", "-p", "alternate=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_all_flag}#{mouse_sgr_flag}")
	if got, want := strings.TrimSpace(flags), "alternate=0 cursor=1 mouse=0000"; got != want {
		t.Errorf("terminal modes %q, want %q", got, want)
	}
	scr, _ := r.s.tmux("capture-pane", "-p", "-J")
	for _, ui := range []string{"Files (", "Pieces", "? keys", "█", "░", "·"} {
		if strings.Contains(scr, ui) {
			t.Errorf("the screen still shows %q of the UI:\n%s", ui, scr)
		}
	}
	for _, w := range append(want, "exit=") {
		if !strings.Contains(scr, w) {
			t.Errorf("no %q on the screen:\n%s", w, scr)
		}
	}
	for _, l := range strings.Split(scr, "\n") {
		if cleanLines && logLine.MatchString(l) && !logHead.MatchString(l) || strings.Contains(l, "exit=") && !strings.HasPrefix(l, "exit=") {
			t.Errorf("a line does not start on a line of its own: %q\nscreen:\n%s", l, scr)
		}
	}
}
