package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := map[string]int64{"0": 0, "24KB": 24_000, "10MB": 10_000_000, "1.5MiB": 3 << 19, "512": 512, "2k": 2000, "1GiB": 1 << 30, "3MB/s": 3_000_000}
	for in, want := range tests {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "10XB", "1e30"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
}

// run runs bin/torrent and returns its combined output and exit code.
func runTorrent(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testbin.Build(t), "torrent"), args...)
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

func TestCreateAndInfo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	realpeers.MakeData(t, dir)
	out, code := runTorrent(t, dir, "create", "-a", "http://127.0.0.1:1/announce", "-piece-length", "256KiB", "-o", "x.torrent", "tree")
	if code != 0 || !strings.Contains(out, "info-hash") {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	out, code = runTorrent(t, dir, "info", "x.torrent")
	for _, want := range []string{"name:         tree", "pieces:", "tree/sub/deep/d.bin", "tree/empty", "http://127.0.0.1:1/announce"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("info lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	// Same pieces as mktorrent's for the same piece length.
	mk := realpeers.MakeTorrent(t, dir, "http://127.0.0.1:1/announce", 18)
	mkOut, _ := runTorrent(t, dir, "info", mk)
	if hash := func(s string) string { return strings.Fields(s[strings.Index(s, "info-hash:"):])[1] }; hash(out) != hash(mkOut) {
		t.Fatalf("info-hash differs from mktorrent's:\n%s\n%s", out, mkOut)
	}
}

// Bad input is exit code 2 with a message that says what is wrong.
func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.torrent"), []byte("d4:infod4:name2:..ee"), 0o644)
	evil := "d4:infod5:filesld6:lengthi1e4:pathl2:..6:passwdeee4:name1:x12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"
	os.WriteFile(filepath.Join(dir, "evil.torrent"), []byte(evil), 0o644)
	tests := map[string]struct {
		args []string
		want string
	}{
		"no args":      {nil, "exactly one FILE.torrent"},
		"missing file": {[]string{"nope.torrent"}, "no such file"},
		"bad torrent":  {[]string{"bad.torrent"}, "invalid torrent"},
		"escape":       {[]string{"evil.torrent"}, `".."`},
		"bad flag":     {[]string{"-up-rate", "fast", "x.torrent"}, "not a size"},
		"bad port":     {[]string{"-port", "99999", "bad.torrent"}, "out of range"},
		"no peers":     {[]string{"-max-peers", "0", "bad.torrent"}, "-max-peers 0"},
		"info bad":     {[]string{"info", "bad.torrent"}, "invalid torrent"},
		"create none":  {[]string{"create", "nothing-here"}, "no such file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, code := runTorrent(t, dir, tc.args...)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 2 with %q:\n%s", code, tc.want, out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "passwd")); err == nil {
		t.Fatal("a file escaped the directory")
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	out, code := runTorrent(t, t.TempDir(), "-h")
	if code != 0 || !strings.Contains(out, "-up-rate") || !strings.Contains(out, "torrent create") {
		t.Fatalf("-h: exit %d\n%s", code, out)
	}
}

func TestPluginsListing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "torrent-picker-broken"), []byte("#!/bin/sh\necho not a plugin\n"), 0o755)
	t.Setenv("TORRENT_PLUGIN_DIR", dir)
	out, code := runTorrent(t, dir, "plugins")
	for _, want := range []string{"picker  random  1", "ui      term    1", "torfs   -       1", "picker  broken  -", "unusable: Unrecognized remote plugin message"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("no %q (exit %d):\n%s", want, code, out)
		}
	}
}

// `torrent demo` (the README's first command) without a terminal: the
// local swarm serves the whole torrent and the demo checks every byte.
func TestDemo(t *testing.T) {
	t.Parallel()
	out, code := runTorrent(t, t.TempDir(), "demo", "-seed-rate", "20MB")
	if code != 0 || !strings.Contains(out, "every byte matches the source") {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
}
