package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

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
	cmd := exec.Command(filepath.Join(testbin.Build(t), "torrent"), offline(args)...)
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
		"no args":      {nil, "exactly one MAGNET or FILE.torrent"},
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

// Every -h prints its usage once, with the flags, and exits 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args []string
		want []string
	}{
		"download": {[]string{"-h"}, []string{"-up-rate", "torrent create"}},
		"create":   {[]string{"create", "-h"}, []string{"-private", "-comment", "-piece-length"}},
		"info":     {[]string{"info", "-h"}, []string{"torrent info"}},
		"mount":    {[]string{"mount", "-h"}, []string{"torrent mount"}},
		"plugins":  {[]string{"plugins", "-h"}, []string{"torrent plugins"}},
		"demo":     {[]string{"demo", "-h"}, []string{"torrent demo"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, code := runTorrent(t, t.TempDir(), tc.args...)
			if code != 0 || strings.Count(out, "usage:") != 1 {
				t.Fatalf("%v: exit %d, want 0 and one usage:\n%s", tc.args, code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%v: no %q in:\n%s", tc.args, w, out)
				}
			}
		})
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

// A v2-only torrent (BEP 52, made by libtorrent) is refused with exit 2 and
// one plain sentence, by the client and by info.
func TestV2OnlyTorrentRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	realpeers.MakeData(t, dir, realpeers.FileSpec{Path: "v2/a.bin", Size: 100 << 10}, realpeers.FileSpec{Path: "v2/b.bin", Size: 3000})
	torrent := realpeers.MakeLibtorrentTorrent(t, filepath.Join(dir, "v2"), realpeers.LTV2Only)
	for _, args := range [][]string{{"-seed=false", "-dir", t.TempDir(), torrent}, {"info", torrent}} {
		out, code := runTorrent(t, dir, args...)
		if code != 2 || !strings.Contains(out, "v2-only torrents are not supported yet") {
			t.Errorf("%v: exit %d, want 2 and the v2-only sentence:\n%s", args, code, out)
		}
	}
}

// readOnlyTmpfs mounts a read-only tmpfs at dir until the test ends: a
// directory even root may not write (permission bits do not stop root).
func readOnlyTmpfs(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a read-only tmpfs at %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// -dir and -torfs paths that do not exist yet are created with their
// parents. One that is a file or cannot be created is exit 2, a -dir we
// may not write exit 1, each naming the path, before any peer is
// contacted.
func TestDirFlags(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src := filepath.Join(root, "src")
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "d/a.bin", Size: 256 << 10})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "d"), "", 16)
	file := filepath.Join(root, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(root, "ro")
	os.Mkdir(ro, 0o755)
	readOnlyTmpfs(t, ro)
	tests := map[string]struct {
		dir, torfs string
		code       int
		want       string // in the output
	}{
		"dir with parents":        {dir: filepath.Join(root, "new", "a", "b"), want: "checked data on disk"},
		"mountpoint with parents": {torfs: filepath.Join(root, "mnt", "a", "b"), want: "torfs: mounted"},
		"dir is a file":           {dir: file, code: 2, want: "-dir " + file + " is not a directory"},
		"dir under a file":        {dir: filepath.Join(file, "sub"), code: 2, want: "-dir " + filepath.Join(file, "sub") + ": not a directory"},
		"dir not creatable":       {dir: filepath.Join(ro, "new", "sub"), code: 2, want: "cannot create " + filepath.Join(ro, "new") + ": read-only file system"},
		"dir not writable":        {dir: ro, code: 1, want: "-dir " + ro + " is not writable: read-only file system"},
		"mountpoint is a file":    {torfs: file, code: 2, want: "-torfs " + file + " is not a directory"},
		"mountpoint not creatable": {torfs: filepath.Join(ro, "mnt"), code: 2,
			want: "-torfs " + filepath.Join(ro, "mnt") + ": cannot create it: read-only file system"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := tc.dir
			if dir == "" {
				dir = t.TempDir()
			}
			args := []string{"-picker", "builtin", "-dir", dir}
			var peer net.Listener
			if tc.code != 0 {
				// A peer that must not hear from a client that refused to start.
				var err error
				if peer, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
					t.Fatal(err)
				}
				defer peer.Close()
				args = append(args, "-peer", peer.Addr().String())
			}
			if tc.torfs != "" {
				args = append(args, "-torfs", tc.torfs)
				t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", tc.torfs).Run() }) // if the test fails while mounted
			}
			c := startClient(t, append(args, torrent)...)
			if tc.code == 0 {
				c.waitFor(regexp.MustCompile(regexp.QuoteMeta(tc.want)), 30*time.Second)
				syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
				c.wait(30*time.Second, 0)
				if st, err := os.Stat(filepath.Join(dir, ".")); err != nil || !st.IsDir() {
					t.Fatalf("-dir %s was not created: %v", dir, err)
				}
				return
			}
			c.wait(30*time.Second, tc.code)
			if out := c.output(); !strings.Contains(out, tc.want) {
				t.Fatalf("no %q in the output:\n%s", tc.want, out)
			}
			peer.(*net.TCPListener).SetDeadline(time.Now())
			if conn, err := peer.Accept(); err == nil {
				conn.Close()
				t.Fatal("the client contacted a peer before refusing to start")
			}
		})
	}
}
