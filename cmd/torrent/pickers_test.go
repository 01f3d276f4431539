package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/sdk"
)

// downloadWithPicker downloads a 6 MiB torrent from a rate-limited
// libtorrent seeder with the given picker and returns the client's output.
// Extra arguments starting with "-" are flags; the others are KEY=VALUE
// environment settings.
func downloadWithPicker(t *testing.T, picker string, extra ...string) string {
	t.Helper()
	return downloadWithPickerAt(t, picker, 2<<20, extra...)
}

// downloadWithPickerAt is downloadWithPicker from a seeder capped at rate
// bytes/s: the download takes at least 6 MiB / rate, however fast the
// machine (a loaded one only makes it slower).
func downloadWithPickerAt(t *testing.T, picker string, rate int, extra ...string) string {
	t.Helper()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "x/a.bin", Size: 6 << 20}, realpeers.FileSpec{Path: "x/b", Size: 777})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "x"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: rate})
	dst := t.TempDir()
	args := []string{"-seed=false", "-up-rate", "0", "-picker", picker, "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst}
	for _, e := range extra {
		if strings.HasPrefix(e, "-") {
			args = append(args, e)
			continue
		}
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	c := startClient(t, append(args, torrent)...)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "x"), filepath.Join(dst, "x"))
	return c.output()
}

// The sequential example, built as its own module the way an outsider
// builds it, drives a download.
func TestSequentialExamplePicker(t *testing.T) {
	t.Parallel()
	bin := testbin.BuildPkg(t, "examples/picker-sequential", "picker-sequential")
	out := downloadWithPicker(t, bin)
	if !regexp.MustCompile(`picker plugin running: .*name=sequential`).MatchString(out) {
		t.Fatalf("the sequential picker never ran:\n%s", out)
	}
	if strings.Contains(out, "picker plugin failed") {
		t.Fatalf("the sequential picker failed:\n%s", out)
	}
}

// Hostile pickers cannot stop a download; the log says what each did.
// (downloadWithPicker checks the data.)
func TestHostilePickers(t *testing.T) {
	bin := testbin.BuildPkg(t, "internal/testpickers/hostile", "torrent-picker-hostile")
	tests := map[string]string{
		"garbage": `answered badly.*fault=`,
		"hang":    `picker plugin failed.*cause="stalled: no answer`,
		"crash":   `picker plugin failed.*plugin process exited`,
		"flood":   `picker plugin failed.*cause="flooding: `,
	}
	for mode, want := range tests {
		t.Run(mode, func(t *testing.T) {
			rate := 2 << 20
			if mode == "hang" {
				// The stall shows only after 3 s without an answer: at
				// 512 KiB/s the download lasts at least 12 s.
				rate = 512 << 10
			}
			out := downloadWithPickerAt(t, bin, rate, "TORRENT_TEST_HOSTILE="+mode)
			if !regexp.MustCompile(want).MatchString(out) {
				t.Fatalf("no %q in the log:\n%s", want, out)
			}
			if mode == "crash" {
				// Restarts back off: a crash loop does not spin.
				if n := strings.Count(out, "picker plugin running"); n > 6 {
					t.Fatalf("%d restarts during one short download", n)
				}
			}
		})
	}
}

// startDebugPlugin runs a plugin by hand in debug mode, as under a
// debugger, with env set to 1, and returns the reattach line it prints for
// its kind's -KIND-reattach flag.
func startDebugPlugin(t *testing.T, exe, env string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(testbin.Build(t), exe))
	cmd.Env = append(os.Environ(), env+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return reattachLine(t, stdout)
}

var reattachRe = regexp.MustCompile(`-(?:picker|ui|torfs)-reattach '(\{.*\})'`)

// reattachLine reads a debug-mode plugin's output up to its reattach line.
func reattachLine(t *testing.T, r io.Reader) string {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := reattachRe.FindStringSubmatch(sc.Text()); m != nil {
				line <- m[1]
			}
		}
	}()
	select {
	case l := <-line:
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("the debug-mode plugin printed no reattach line")
		return ""
	}
}

// A picker started by hand in debug mode (as under a debugger) prints a
// reattach line the client accepts. It is started with the variable's
// first name, which pickers still honour.
func TestPickerDebugReattach(t *testing.T) {
	t.Parallel()
	reattach := startDebugPlugin(t, "torrent-picker-random", sdk.PickerDebugEnv)
	out := downloadWithPicker(t, "random", "-picker-reattach="+reattach)
	if !regexp.MustCompile(`picker plugin running: .*debug-mode picker, pid`).MatchString(out) {
		t.Fatalf("the client did not use the debug-mode picker:\n%s", out)
	}
}
