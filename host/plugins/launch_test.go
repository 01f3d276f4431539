package plugins

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/sdk"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	testbin.Cleanup()
	os.Exit(code)
}

// capabilities asks a started picker its name over the connection Start
// opened.
func capabilities(t *testing.T, p *Plugin) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pickerpb.NewPickerClient(p.Conn).Capabilities(ctx, &pickerpb.CapabilitiesRequest{HostProtocol: sdk.PickerProtocol})
	if err != nil {
		t.Fatalf("capabilities: %v", err)
	}
	return c.Name
}

// Start runs a plugin by name and by path and hands over a working
// connection; Kill ends the process.
func TestStart(t *testing.T) {
	t.Setenv("TORRENT_PLUGIN_DIR", testbin.Build(t))
	for name, spec := range map[string]string{
		"by name": "random",
		"by path": filepath.Join(testbin.Build(t), "torrent-picker-random"),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := Start(Options{Kind: sdk.PickerKind, Spec: spec})
			if err != nil {
				t.Fatal(err)
			}
			if p.Path != filepath.Join(testbin.Build(t), "torrent-picker-random") {
				t.Errorf("path %q", p.Path)
			}
			if got := capabilities(t, p); got != "random" {
				t.Errorf("the plugin says its name is %q", got)
			}
			p.Kill()
			if !p.Exited() {
				t.Fatal("the plugin process still runs after Kill")
			}
		})
	}
}

// A plugin started by hand in debug mode is reattached to, for every kind
// the same way.
func TestStartReattach(t *testing.T) {
	cmd := exec.Command(filepath.Join(testbin.Build(t), "torrent-picker-random"))
	cmd.Env = append(os.Environ(), sdk.DebugEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	re := regexp.MustCompile(`-picker-reattach '(\{.*\})'`)
	var line string
	for line == "" && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			line = m[1]
		}
	}
	r, err := sdk.ParseReattach(line)
	if err != nil {
		t.Fatalf("reattach line %q: %v", line, err)
	}
	if r.Kind != sdk.PickerKind {
		t.Fatalf("the reattach line names kind %q", r.Kind)
	}
	if _, err := Start(Options{Kind: sdk.FSKind, Reattach: &r}); err == nil || !strings.Contains(err.Error(), "for a picker plugin, not a torfs plugin") {
		t.Fatalf("a picker's line used for torfs: %v", err)
	}
	p, err := Start(Options{Kind: sdk.PickerKind, Reattach: &r})
	if err != nil {
		t.Fatal(err)
	}
	if want := DebugName(sdk.PickerKind, cmd.Process.Pid); p.Path != want {
		t.Errorf("path %q, want %q", p.Path, want)
	}
	if got := capabilities(t, p); got != "random" {
		t.Errorf("the plugin says its name is %q", got)
	}
	p.Kill() // leaves a debug-mode plugin to its user
	if p.Exited() {
		t.Fatal("Kill ended a debug-mode plugin")
	}
}

// What cannot start says which kind and file, and why in one line.
func TestStartFails(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "torrent-picker-bad")
	os.WriteFile(bad, []byte("#!/bin/sh\necho not a plugin\n"), 0o755)
	tests := map[string]struct {
		opts Options
		want string
	}{
		"unknown kind": {Options{Kind: "nope", Spec: bad}, `unknown plugin kind "nope"`},
		"missing":      {Options{Kind: sdk.PickerKind, Spec: filepath.Join(dir, "absent")}, "no such file"},
		"not a plugin": {Options{Kind: sdk.PickerKind, Spec: bad}, "picker plugin " + bad + ": Unrecognized remote plugin message: not a plugin"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Start(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("a multi-line error: %q", err)
			}
		})
	}
}
