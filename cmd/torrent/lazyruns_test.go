package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

// openMounted opens file name of lt's torrent under mnt; closed at the
// test's end.
func openMounted(t *testing.T, mnt, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(mnt, "z", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// torrent mount -lazy MAGNET MOUNTPOINT: the metadata comes from a
// libtorrent seeder first (the mount appears only then), and is kept in
// DIR; then a read gets the right bytes and fetches its own pieces and
// readahead only. Would catch a magnet link that mounts nothing, or whose
// lazy run starts as a full download once the metadata is in.
func TestLazyMountMagnet(t *testing.T) {
	t.Parallel()
	lt := newLazyTorrent(t,
		realpeers.FileSpec{Path: "z/a.bin", Size: 3 << 20},
		realpeers.FileSpec{Path: "z/b.bin", Size: 4<<20 + 77})
	link, _ := magnetFor(t, lt.torrent, ltAddr(lt.seeder))
	dir, mnt := t.TempDir(), t.TempDir()
	c := lt.mountOf(t, dir, mnt, link)
	// The mount can be seen before its log line is read.
	c.waitFor(regexp.MustCompile(`torfs: mounted`), 30*time.Second)
	if out := c.output(); !strings.Contains(out, "metadata fetched") || strings.Index(out, "metadata fetched") > strings.Index(out, "torfs: mounted") {
		t.Fatalf("mounted before the metadata was fetched:\n%s", out)
	}
	want := map[int]bool{}
	lt.readInto(t, openMounted(t, mnt, "b.bin"), "b.bin", 1<<20+4096, 64<<10, want)
	if t.Failed() {
		t.FailNow()
	}
	waitPieces(t, c, len(want), lt.info.NumPieces())
	down := stopLazy(t, c)
	if have := lt.haveOnDisk(t, dir); !sameSet(have, want) {
		t.Fatalf("pieces on disk %v, want those read and read ahead into: %v", have, want)
	}
	if down > lt.bytesOf(want) {
		t.Fatalf("downloaded %d bytes; the read and its readahead are %d", down, lt.bytesOf(want))
	}
	saved, err := metainfo.Load(storage.MetadataPath(dir, lt.ih))
	if err != nil || saved.InfoHash != lt.ih {
		t.Fatalf("metadata kept in DIR: %v", err)
	}
}

// A lazy mount keeps what it fetched: started again in the same DIR with
// its only seeder gone, the same reads get the same bytes from disk, and
// the run downloads nothing. Would catch data a lazy run leaves out of
// its resume file, or a restart that refetches (it would hang here).
func TestLazyRestartWithoutSeeder(t *testing.T) {
	t.Parallel()
	lt := newLazyTorrent(t,
		realpeers.FileSpec{Path: "z/a.bin", Size: 5<<20 + 999},
		realpeers.FileSpec{Path: "z/b.bin", Size: 2 << 20})
	dir, mnt := t.TempDir(), t.TempDir()
	type read struct {
		file   string
		off, n int64
	}
	reads := []read{{"a.bin", 3<<20 + 10, 64 << 10}, {"b.bin", 4096, 20000}, {"a.bin", 5 << 20, 999}}
	do := func(c *client) map[int]bool {
		want := map[int]bool{}
		for _, r := range reads {
			lt.readInto(t, openMounted(t, mnt, r.file), r.file, r.off, r.n, want)
		}
		if t.Failed() {
			t.FailNow()
		}
		return want
	}
	c := lt.mount(t, dir, mnt)
	want := do(c)
	waitPieces(t, c, len(want), lt.info.NumPieces())
	stopLazy(t, c)

	lt.seeder.Kill()
	c = lt.mount(t, dir, mnt)
	if again := do(c); !sameSet(again, want) {
		t.Fatalf("the same reads asked for %v the second time, %v the first", again, want)
	}
	if down := stopLazy(t, c); down != 0 {
		t.Fatalf("the second run, its reads all on disk, downloaded %d bytes", down)
	}
	if have := lt.haveOnDisk(t, dir); !sameSet(have, want) {
		t.Fatalf("pieces on disk after the second run %v, want %v", have, want)
	}
}

// torrent mount -lazy -seed=false -only b.bin, and torrent status of it:
// every file is in the mount and a read of any is served and fetched
// (its window only); -only makes b.bin the goal, what progress counts;
// status shows the run as lazy with what was read, asked for and
// fetched. Once b.bin is all read, the run does not end (-seed=false
// does not end a lazy mount: a reader may still be reading): the mount
// still serves, and a read of a file outside the goal still fetches,
// until torrent stop. Would catch -only hiding or refusing files, a
// status that calls a lazy run stalled, a mount that vanishes under its
// reader once the last piece came in, or a complete goal that lets the
// seeder go and leaves later reads waiting.
func TestLazySeedFalseOnly(t *testing.T) {
	t.Parallel()
	lt := newLazyTorrent(t,
		realpeers.FileSpec{Path: "z/a.bin", Size: 2 << 20},
		realpeers.FileSpec{Path: "z/b.bin", Size: 1<<20 + 333},
		realpeers.FileSpec{Path: "z/c.bin", Size: 2 << 20})
	dir, mnt := t.TempDir(), t.TempDir()
	c := lt.mountOf(t, dir, mnt, lt.torrent, "-seed=false", "-only", "b.bin")
	if !strings.Contains(c.output(), "-seed=false does not end a lazy run") {
		t.Fatalf("no word that -seed=false does not end the run:\n%s", c.output())
	}
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		got, err := os.Stat(filepath.Join(mnt, "z", name))
		src, _ := os.Stat(filepath.Join(lt.src, "z", name))
		if err != nil || got.Size() != src.Size() {
			t.Fatalf("%s in the mount: %v", name, err)
		}
	}

	// A read outside the goal: served, its window fetched, the run lazy.
	want := map[int]bool{}
	const n = 64 << 10
	lt.readInto(t, openMounted(t, mnt, "a.bin"), "a.bin", 256<<10, n, want)
	if t.Failed() {
		t.FailNow()
	}
	asked := lt.bytesOf(want)
	v := statusJSON(t, dir, "the read's window fetched", func(v map[string]any) bool {
		l, _ := v["lazy"].(map[string]any)
		return l != nil && l["fetched"] == float64(asked)
	})
	l := v["lazy"].(map[string]any)
	if v["state"] != "lazy" || v["eta"] != nil || l["read"] != float64(n) || l["asked"] != float64(asked) || v["pieces_done"] != float64(len(want)) {
		t.Fatalf("status of a lazy run after a %d-byte read asking for %d bytes (%d pieces): %v", n, asked, len(want), v)
	}
	out, code := runTorrent(t, t.TempDir(), "status", dir)
	line := fmt.Sprintf("lazy: %s fetched for reads (%s read, %[1]s asked for with readahead)", human(asked), human(n))
	if code != 0 || !strings.Contains(out, line) {
		t.Fatalf("status: exit %d, want %q in:\n%s", code, line, out)
	}

	// All of the goal: read whole; the run goes on.
	first, last := lt.info.PieceRange(lt.offset(t, "b.bin"), 1<<20+333)
	for i := first; i <= last+1; i++ {
		want[i] = true // b's pieces, and the readahead's one more
	}
	readWhole := func(name string) {
		got, err := os.ReadFile(filepath.Join(mnt, "z", name))
		src, _ := os.ReadFile(filepath.Join(lt.src, "z", name))
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%s read whole through the mount: %v, %d bytes, same %v", name, err, len(got), bytes.Equal(got, src))
		}
	}
	readWhole("b.bin")
	statusJSON(t, dir, "the goal complete", func(v map[string]any) bool { return v["state"] == "seeding" })
	select {
	case <-c.done:
		t.Fatal("the lazy run ended with -seed=false once its goal was had")
	case <-time.After(2 * time.Second): // a -seed=false download would have ended at once
	}
	readWhole("b.bin")
	lt.readSame(t, openMounted(t, mnt, "a.bin"), "a.bin", 256<<10, n)
	// A read that waits for good must fail the test, not hang it: the
	// client's end (cleanup) returns it.
	read, f := make(chan bool, 1), openMounted(t, mnt, "c.bin")
	go func() {
		got, want := make([]byte, n), make([]byte, n)
		_, err := f.ReadAt(got, 1<<20)
		src, _ := os.ReadFile(filepath.Join(lt.src, "z", "c.bin"))
		copy(want, src[1<<20:])
		read <- err == nil && bytes.Equal(got, want)
	}()
	select {
	case ok := <-read:
		if !ok {
			t.Fatal("a read of c.bin, outside the goal, once the goal was had: wrong bytes or an error")
		}
	case <-time.After(time.Minute):
		t.Fatal("a read of c.bin, outside the goal, once the goal was had, never returned")
	}
	lt.window(want, lt.offset(t, "c.bin")+1<<20, n, 1<<20)

	out, code = runTorrent(t, t.TempDir(), "stop", dir)
	if code != 0 {
		t.Fatalf("torrent stop: exit %d:\n%s", code, out)
	}
	c.wait(30*time.Second, 0)
	if isMounted(mnt) {
		t.Fatal("still mounted after torrent stop")
	}
	have := lt.haveOnDisk(t, dir)
	for i := range have {
		if !want[i] {
			t.Fatalf("piece %d on disk, neither read nor read ahead into (%v)", i, want)
		}
	}
	for i := first; i <= last; i++ {
		if !have[i] {
			t.Fatalf("piece %d of b.bin, read whole, not on disk", i)
		}
	}
	if regexp.MustCompile(`"type":"complete"`).FindString(c.output()) == "" {
		t.Fatalf("no complete event once the goal was had:\n%s", c.output())
	}
}

// The terminal UI of a lazy mount says so: its header shows what reads
// fetched instead of an ETA, and follows a read through the mount.
func TestTerminalUILazy(t *testing.T) {
	t.Parallel()
	lt := newLazyTorrent(t, realpeers.FileSpec{Path: "z/a.bin", Size: 4 << 20})
	dir, mnt := t.TempDir(), t.TempDir()
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() }) // if the test fails while mounted
	exitFile := filepath.Join(t.TempDir(), "exit")
	cmd := fmt.Sprintf("%s mount -lazy -g -dht=false -lsd=false -pex=false -picker builtin -peer 127.0.0.1:%d -dir %s %s %s; echo $? > %s",
		filepath.Join(testbin.Build(t), "torrent"), lt.seeder.Port, dir, lt.torrent, mnt, exitFile)
	s := startTmux(t, 100, 30, cmd)
	s.waitScreen("the lazy header", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "lazy: 0 B fetched for reads") })
	for deadline := time.Now().Add(30 * time.Second); !isMounted(mnt); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never mounted; screen:\n%s", s.screen())
		}
	}
	lt.readSame(t, openMounted(t, mnt, "a.bin"), "a.bin", 2<<20, 64<<10)
	fetched := regexp.MustCompile(`lazy: [0-9.]+ [KM]iB fetched for reads`)
	s.waitScreen("the read's pieces fetched", 30*time.Second, func(scr string) bool { return fetched.MatchString(scr) })
	s.keys("q")
	if code := waitExit(t, s, exitFile, 20*time.Second); code != "0" {
		t.Fatalf("exit code %s after q; screen:\n%s", code, s.screen())
	}
	if isMounted(mnt) {
		t.Fatal("still mounted after q")
	}
}
