package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/sdk"
)

// waitMounted waits until dir shows the torrent's top entry.
func waitMounted(t *testing.T, c *client, dir, entry string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, entry)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared under %s", entry, dir)
		}
		select {
		case <-c.done:
			t.Fatal("the client exited before mounting")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func isMounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mounts")
	abs, _ := filepath.Abs(dir)
	return strings.Contains(string(b), " "+abs+" ")
}

func fileSHA1(t *testing.T, path string) [20]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return [20]byte(h.Sum(nil))
}

// verifiedRe is the lastfirst test picker's line for each verified piece.
// (hclog prints the fields in any order).
var verifiedRe = regexp.MustCompile(`lastfirst: verified:[^\n]*? piece=(\d+)`)

// Reading a file through the mount while the torrent downloads slowly,
// with a picker (internal/testpickers/lastfirst) that fetches from the end
// and ignores urgent pieces: the bytes are right, and the read's pieces are
// verified before most of the others, where the picker would have left
// them among the last. The file is not the first: while it waits for the
// picker, the swarm fetches a missing piece at or after a random index,
// which favours the lowest ones once the end is done. Would catch a host
// that did not put a reader's pieces ahead of the picker's order.
func TestTorfsReadWhileDownloading(t *testing.T) {
	t.Parallel()
	picker := testbin.BuildPkg(t, "internal/testpickers/lastfirst", "torrent-picker-lastfirst")
	src := t.TempDir()
	realpeers.MakeData(t, src,
		realpeers.FileSpec{Path: "m/a.bin", Size: 4 << 20},
		realpeers.FileSpec{Path: "m/b.bin", Size: 1<<20 + 333},
		realpeers.FileSpec{Path: "m/c.bin", Size: 12 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "m"), "", 16)
	// 64 KiB pieces: b.bin is pieces 64 to 80.
	const pieces, readFirst, readLast = (17<<20 + 333 + 1<<16 - 1) >> 16, 64, (5<<20 + 333 - 1) >> 16
	const readPieces = readLast - readFirst + 1
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	dst, mnt := t.TempDir(), t.TempDir()
	// A failed test kills the client with -9: do not leave its mount behind.
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() })
	c := startClient(t, "-seed=false", "-up-rate", "0", "-picker", picker, "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, "-torfs", mnt, torrent)
	waitMounted(t, c, mnt, "m/c.bin")
	if st, err := os.Stat(filepath.Join(mnt, "m/c.bin")); err != nil || st.Size() != 12<<20 {
		t.Fatalf("final size not shown at once: %v %v", st, err)
	}
	// Until the picker's first answer the swarm fetches at random: read
	// only once the picker is in charge (it has verified pieces).
	c.waitFor(regexp.MustCompile(`(?s)(lastfirst: verified:.*?){8}`), time.Minute)
	before := len(verifiedOrder(c.output()))
	got := fileSHA1(t, filepath.Join(mnt, "m/b.bin"))
	if want := fileSHA1(t, filepath.Join(src, "m/b.bin")); got != want {
		t.Fatal("b.bin read through the mount differs from the source")
	}
	c.wait(2*time.Minute, 0)
	if isMounted(mnt) {
		t.Fatal("still mounted after the client exited")
	}
	out := c.output()
	if strings.Contains(out, "[ERROR]") { // done with -seed=false is a stop we asked for
		t.Fatalf("an error logged on a stop we asked for:\n%s", out)
	}
	order := verifiedOrder(out)
	if len(order) != pieces {
		t.Fatalf("%d pieces logged as verified, want %d:\n%s", len(order), pieces, out)
	}
	// Counted from the read's start: the pieces verified until the last of
	// the read's (readFirst..readLast) came while the reader waited.
	last, pending := -1, 0
	for pos, p := range order {
		if p >= readFirst && p <= readLast && pos >= before {
			last = pos
			pending++
		}
	}
	if pending < readPieces/2 {
		t.Fatalf("only %d of b.bin's %d pieces were missing when the read began: the test proves nothing", pending, readPieces)
	}
	others := last + 1 - before - pending
	left := pieces - before - pending // other pieces missing when the read began
	t.Logf("%d pieces verified before the read; the read's %d missing pieces were all verified after %d of the %d others", before, pending, others, left)
	if others >= left/2 {
		t.Fatalf("the read's pieces were verified after %d of the other %d pieces: they did not jump the queue; order %v", others, left, order)
	}
}

// verifiedOrder is the pieces the lastfirst picker logged as verified, in order.
func verifiedOrder(out string) []int {
	var order []int
	for _, m := range verifiedRe.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		order = append(order, n)
	}
	return order
}

// sparse writes a 5 GiB file that is a hole but for random chunks at
// around 2 GiB, 4 GiB and the end; it returns those chunks by offset.
func sparse(t *testing.T, path string) map[int64][]byte {
	t.Helper()
	const size = 5 << 30
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{5})
	chunks := map[int64][]byte{}
	for _, off := range []int64{2<<30 - 1<<20, 4<<30 - 1<<20, size - 2<<20} {
		b := make([]byte, 2<<20)
		rng.Read(b)
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		chunks[off] = b
	}
	return chunks
}

func startMount(t *testing.T, dir, mnt string) *client {
	c := startClient(t, "mount", dir, mnt)
	c.waitFor(regexp.MustCompile(`mounted; interrupt to unmount`), 2*time.Minute)
	return c
}

// A 5 GiB sparse file served by directory mode: reads at offsets around
// 2 GiB, 4 GiB and the end return the right bytes.
func TestTorfsLargeFile(t *testing.T) {
	t.Parallel()
	dir, mnt := t.TempDir(), t.TempDir()
	os.Mkdir(filepath.Join(dir, "big"), 0o755)
	chunks := sparse(t, filepath.Join(dir, "big", "five.bin"))
	out, code := runTorrent(t, dir, "create", "-piece-length", "1MiB", "-o", "big.torrent", "big")
	if code != 0 {
		t.Fatalf("create: %s", out)
	}
	c := startMount(t, dir, mnt)
	f, err := os.Open(filepath.Join(mnt, "big", "five.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, _ := f.Stat(); st.Size() != 5<<30 {
		t.Fatalf("size %d", st.Size())
	}
	for off, want := range chunks {
		for _, at := range []int64{off, off + 1<<20 - 7, off + int64(len(want)) - 4096} {
			got := make([]byte, 4096)
			if _, err := f.ReadAt(got, at); err != nil && !(errors.Is(err, io.EOF) && at+4096 >= 5<<30) {
				t.Fatalf("read at %d: %v", at, err)
			}
			if !bytes.Equal(got, want[at-off:at-off+4096]) {
				t.Fatalf("wrong bytes at offset %d", at)
			}
		}
	}
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	c.wait(30*time.Second, 0)
	if isMounted(mnt) {
		t.Fatal("still mounted after SIGINT")
	}
}

// Directory mode over a complete and a partial torrent: complete files read
// right; a missing piece fails with EIO at once, no hang.
func TestTorfsDirectoryMode(t *testing.T) {
	t.Parallel()
	dir, mnt := t.TempDir(), t.TempDir()
	realpeers.MakeData(t, dir, realpeers.FileSpec{Path: "full/a.bin", Size: 3<<20 + 5}, realpeers.FileSpec{Path: "full/b.txt", Size: 10})
	realpeers.MakeData(t, dir, realpeers.FileSpec{Path: "part.bin", Size: 2 << 20})
	for _, name := range []string{"full", "part.bin"} {
		if out, code := runTorrent(t, dir, "create", "-piece-length", "64KiB", "-o", name+".torrent", name); code != 0 {
			t.Fatalf("create: %s", out)
		}
	}
	// Damage the second half of part.bin: those pieces no longer verify.
	f, _ := os.OpenFile(filepath.Join(dir, "part.bin"), os.O_WRONLY, 0)
	f.WriteAt(make([]byte, 1<<20), 1<<20)
	f.Close()
	want := fileSHA1(t, filepath.Join(dir, "full/a.bin"))
	c := startMount(t, dir, mnt)
	if got := fileSHA1(t, filepath.Join(mnt, "full", "a.bin")); got != want {
		t.Fatal("a.bin differs through the mount")
	}
	p, err := os.Open(filepath.Join(mnt, "part.bin", "part.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first := make([]byte, 4096)
	if _, err := p.ReadAt(first, 0); err != nil {
		t.Fatalf("verified part of part.bin: %v", err)
	}
	start := time.Now()
	_, err = p.ReadAt(first, 1<<20+100)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read of a missing piece: %v, want EIO", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the failing read took %s", d)
	}
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGTERM)
	c.wait(30*time.Second, 0)
}

// kill -9 with a mount active leaves a stale mount; the next start cleans
// it and mounts again.
func TestTorfsStaleMountAfterKill(t *testing.T) {
	t.Parallel()
	dir, mnt := t.TempDir(), t.TempDir()
	realpeers.MakeData(t, dir, realpeers.FileSpec{Path: "s/a.bin", Size: 1 << 20})
	if out, code := runTorrent(t, dir, "create", "-o", "s.torrent", "s"); code != 0 {
		t.Fatalf("create: %s", out)
	}
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() })
	c := startClient(t, "-dir", dir, "-torfs", mnt, filepath.Join(dir, "s.torrent"))
	waitMounted(t, c, mnt, "s/a.bin")
	// Not before the mount call has returned: while mounting, go-fuse
	// holds a file of the new mount open in the plugin itself (its "poll
	// hack"), and a plugin killed then never finishes exiting (its exit
	// waits on a flush it would have to answer), so the mount never goes
	// stale.
	c.waitFor(regexp.MustCompile(`torfs: mounted`), 30*time.Second)
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) // host and plugins at once
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the client did not die of SIGKILL in 30 s:\n%s", processStates(c.cmd.Process.Pid))
	}
	if _, err := os.ReadDir(mnt); !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		t.Fatalf("after kill -9 the mount is not stale (%v): the test proves nothing", err)
	}
	again := startClient(t, "-dir", dir, "-torfs", mnt, filepath.Join(dir, "s.torrent"))
	again.waitFor(regexp.MustCompile(`torfs: mounted`), 30*time.Second)
	// A read the filesystem never answers would hang the whole test run:
	// it gets a minute, then the test fails saying so (its cleanup kills
	// the client, which ends the read).
	read := make(chan [20]byte, 1)
	go func() {
		b, err := os.ReadFile(filepath.Join(mnt, "s/a.bin"))
		if err != nil {
			b = nil
		}
		read <- sha1.Sum(b)
	}()
	select {
	case got := <-read:
		if want := fileSHA1(t, filepath.Join(dir, "s/a.bin")); got != want {
			t.Fatal("a.bin differs through the new mount")
		}
	case <-time.After(time.Minute):
		t.Fatalf("a read through the new mount did not return in a minute:\n%s", processStates(again.cmd.Process.Pid))
	}
	syscall.Kill(again.cmd.Process.Pid, syscall.SIGINT)
	again.wait(30*time.Second, 0)
	if isMounted(mnt) {
		b, _ := os.ReadFile("/proc/self/mounts")
		t.Fatalf("still mounted after SIGINT:\n%s", b)
	}
}

// readerScript blocks on a read of missing data; SIGALRM after 1 s raises
// in the handler, which Python can only run once the read returns: the
// read must end with EINTR when the kernel interrupts the FUSE request.
const readerScript = `
import os, signal, sys, time
def alarm(*_):
    raise TimeoutError()
signal.signal(signal.SIGALRM, alarm)
fd = os.open(sys.argv[1], os.O_RDONLY)
signal.alarm(int(sys.argv[2]))
t = time.time()
try:
    os.pread(fd, 4096, 1 << 20)
    print("READ")
except TimeoutError:
    print("INTERRUPTED %.1f" % (time.time() - t))
except OSError as e:
    print("ERROR %s" % e.strerror)
`

// With no peer, reads of missing data wait. A signal to the reader ends its
// wait (the FUSE interrupt cancels it); the client stopping ends the others
// with EIO: nothing hangs.
func TestTorfsInterruptAndShutdown(t *testing.T) {
	t.Parallel()
	src, dst, mnt := t.TempDir(), t.TempDir(), t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "w/a.bin", Size: 4 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "w"), "", 16)
	c := startClient(t, "-dir", dst, "-torfs", mnt, torrent)
	c.waitFor(regexp.MustCompile(`torfs: mounted`), 30*time.Second)
	script := filepath.Join(t.TempDir(), "reader.py")
	os.WriteFile(script, []byte(readerScript), 0o644)
	file := filepath.Join(mnt, "w/a.bin")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a hang fails, not stalls the suite
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", script, file, "1").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "INTERRUPTED") {
		t.Fatalf("interrupted read: %v: %s", err, out)
	}

	// A reader still waiting when the client stops gets an error, not a hang.
	blocked := exec.Command("/usr/bin/python3", script, file, "60")
	var outBuf bytes.Buffer
	blocked.Stdout = &outBuf
	if err := blocked.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- blocked.Wait() }()
	waitInRead(t, blocked.Process.Pid, file, done)
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		blocked.Process.Kill()
		t.Fatal("a reader hung after the client stopped")
	}
	if !strings.HasPrefix(outBuf.String(), "ERROR") {
		t.Fatalf("reader during shutdown: %q, want an error", outBuf.String())
	}
	c.wait(30*time.Second, 0)
}

// waitInRead waits until process pid is inside pread64 on file (its
// /proc/PID/syscall names the call and the fd), that is blocked on the
// mount: a stop sent earlier would test a reader that had not started.
func waitInRead(t *testing.T, pid int, file string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		f := strings.Fields(string(b))
		if len(f) > 1 && f[0] == strconv.Itoa(syscall.SYS_PREAD64) {
			fd, err := strconv.ParseInt(f[1], 0, 64)
			if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); err == nil && target == file {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader never blocked in a read of %s; /proc/%d/syscall: %q", file, pid, b)
		}
		select {
		case err := <-exited:
			t.Fatalf("the reader exited before blocking in its read: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// A mount that cannot happen (here: the torfs beside the client is not a
// plugin) is a clear warning; the download goes on and completes.
func TestTorfsMountFailureKeepsDownloading(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "f/a.bin", Size: 3 << 20})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "f"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	// Plugins are looked for beside the client first.
	bin := t.TempDir()
	if err := os.Link(filepath.Join(testbin.Build(t), "torrent"), filepath.Join(bin, "torrent")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bin, "torrent-torfs"), []byte("#!/bin/sh\necho not a plugin\n"), 0o755)
	dst, mnt := t.TempDir(), t.TempDir()
	c := startBinary(t, filepath.Join(bin, "torrent"), "-seed=false", "-up-rate", "0", "-picker", "builtin",
		"-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, "-torfs", mnt, torrent)
	c.wait(2*time.Minute, 0)
	out := c.output()
	if !regexp.MustCompile(`cannot mount; the download goes on: .*mountpoint=` + regexp.QuoteMeta(mnt) + `.*error=".*torrent-torfs: Unrecognized remote plugin message`).MatchString(out) {
		t.Fatalf("no clear mount error in the log:\n%s", out)
	}
	realpeers.SameFiles(t, filepath.Join(src, "f"), filepath.Join(dst, "f"))
}

// processStates lists the state and kernel wait channel of pid and its
// children, for a test that stalls.
func processStates(pid int) string {
	out, _ := exec.Command("ps", "-o", "pid,ppid,stat,wchan:32,args", "--ppid", fmt.Sprint(pid), "-p", fmt.Sprint(pid)).CombinedOutput()
	return string(out)
}

// torfs started by hand in debug mode (as under a debugger): the client
// attaches to it with -torfs-reattach, the files read right through its
// mount, and the client unmounts it on the way out.
func TestTorfsDebugReattach(t *testing.T) {
	t.Parallel()
	dir, mnt := t.TempDir(), t.TempDir()
	realpeers.MakeData(t, dir, realpeers.FileSpec{Path: "g/a.bin", Size: 1<<20 + 7})
	torrent := realpeers.MakeTorrent(t, filepath.Join(dir, "g"), "", 16)
	reattach := startDebugPlugin(t, "torrent-torfs", sdk.DebugEnv)
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() }) // if the test fails while mounted
	c := startClient(t, "-dir", dir, "-torfs", mnt, "-torfs-reattach", reattach, torrent)
	c.waitFor(regexp.MustCompile(`torfs: mounted`), 30*time.Second)
	if got, want := fileSHA1(t, filepath.Join(mnt, "g/a.bin")), fileSHA1(t, filepath.Join(dir, "g/a.bin")); got != want {
		t.Fatal("a.bin differs through the debug-mode plugin's mount")
	}
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	c.wait(30*time.Second, 0)
	if isMounted(mnt) {
		t.Fatal("still mounted after the client stopped")
	}
}
