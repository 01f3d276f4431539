package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// lazyTorrent is a multi-file torrent of 64 KiB pieces served by a
// libtorrent seeder, for lazy mounts.
type lazyTorrent struct {
	src, torrent string
	seeder       *realpeers.Peer
	info         *metainfo.Info
	ih           [20]byte
}

func newLazyTorrent(t *testing.T, files ...realpeers.FileSpec) *lazyTorrent {
	t.Helper()
	src := t.TempDir()
	realpeers.MakeData(t, src, files...)
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "z"), "", 16)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	return &lazyTorrent{src: src, torrent: torrent, seeder: seeder, info: &m.Info, ih: m.InfoHash}
}

// mount starts `torrent mount -lazy` of lt on mnt with data in dir.
func (lt *lazyTorrent) mount(t *testing.T, dir, mnt string) *client {
	t.Helper()
	return lt.mountOf(t, dir, mnt, lt.torrent)
}

// mountOf starts `torrent mount -lazy` of what (lt's .torrent file or a
// magnet link) with flags more, the seeder as its peer.
func (lt *lazyTorrent) mountOf(t *testing.T, dir, mnt, what string, more ...string) *client {
	t.Helper()
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() }) // if the test fails while mounted
	// -pex=false: a leecher of ours learns of no seeder but us.
	args := append([]string{"mount", "-lazy", "-dht=false", "-lsd=false", "-pex=false", "-json", "-up-rate", "0", "-picker", "builtin",
		"-peer", fmt.Sprintf("127.0.0.1:%d", lt.seeder.Port), "-dir", dir}, more...)
	c := startClient(t, append(args, what, mnt)...)
	waitMounted(t, c, mnt, "z")
	return c
}

// offset is where file name of the torrent starts in its data.
func (lt *lazyTorrent) offset(t *testing.T, name string) int64 {
	t.Helper()
	for _, e := range lt.info.Extents {
		if lt.info.RelPath(e) == "z/"+name {
			return e.Offset
		}
	}
	t.Fatalf("no file %s in the torrent", name)
	return 0
}

// window adds to set the pieces a read of n bytes at torrent offset off
// with this readahead makes wanted: its own and those of the readahead,
// rounded up, and one more (session.waitPieces).
func (lt *lazyTorrent) window(set map[int]bool, off, n, readahead int64) {
	pl := lt.info.PieceLength
	last := min(lt.info.NumPieces()-1, int((off+n-1)/pl)+int(readahead/pl)+1)
	for i := int(off / pl); i <= last; i++ {
		set[i] = true
	}
}

// readInto reads n bytes at off of file name through f (readSame) and
// adds to want the pieces the read makes wanted when it starts a run:
// torfs's readahead after a seek is 1 MiB, cut at the file's end.
func (lt *lazyTorrent) readInto(t *testing.T, f *os.File, name string, off, n int64, want map[int]bool) {
	t.Helper()
	lt.readSame(t, f, name, off, n)
	st, err := os.Stat(filepath.Join(lt.src, "z", name))
	if err != nil {
		t.Fatal(err)
	}
	lt.window(want, lt.offset(t, name)+off, n, min(1<<20, st.Size()-off-n))
}

func (lt *lazyTorrent) bytesOf(set map[int]bool) (n int64) {
	for i := range set {
		n += lt.info.PieceSize(i)
	}
	return n
}

// readSame reads n bytes at off of file name through the mount (f) and
// from the source, and fails unless they are the same.
func (lt *lazyTorrent) readSame(t *testing.T, f *os.File, name string, off, n int64) {
	t.Helper()
	got := make([]byte, n)
	if _, err := f.ReadAt(got, off); err != nil {
		t.Errorf("read %d bytes at %d of %s through the mount: %v", n, off, name, err)
		return
	}
	want := make([]byte, n)
	src, err := os.Open(filepath.Join(lt.src, "z", name))
	if err != nil {
		t.Error(err)
		return
	}
	defer src.Close()
	if _, err := src.ReadAt(want, off); err != nil {
		t.Error(err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%d bytes at %d of %s differ through the mount", n, off, name)
	}
}

var (
	uploadedRe = regexp.MustCompile(`"type":"progress"[^\n]*"uploaded":[1-9]`)
	progressRe = regexp.MustCompile(`(?m)^\{[^\n]*"type":"progress"[^\n]*$`)
)

// waitPieces waits until the client's progress events count n pieces
// verified (a lazy run never completes); it fails on more, and on a
// progress event without the lazy run's counts or with more fetched than
// its reads asked for; the reads made must be counted.
func waitPieces(t *testing.T, c *client, n, total int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if lines := progressRe.FindAllString(c.output(), -1); len(lines) > 0 {
			var p struct {
				State      string    `json:"state"`
				PiecesDone int       `json:"pieces_done"`
				Pieces     int       `json:"pieces"`
				Lazy       *jsonLazy `json:"lazy"`
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &p); err != nil {
				t.Fatalf("progress event %s: %v", lines[len(lines)-1], err)
			}
			if p.Pieces != total {
				t.Fatalf("progress counts %d pieces, the torrent has %d", p.Pieces, total)
			}
			if p.State != "lazy" || p.Lazy == nil {
				t.Fatalf("progress state %q, lazy %v: want a lazy run's", p.State, p.Lazy)
			}
			if p.Lazy.Fetched > p.Lazy.Asked {
				t.Fatalf("progress: fetched %d bytes, more than the %d its reads asked for", p.Lazy.Fetched, p.Lazy.Asked)
			}
			if p.PiecesDone > n {
				t.Fatalf("%d pieces verified, more than the %d read and read ahead into", p.PiecesDone, n)
			}
			// The reads ended before this wait: the next event counts them.
			if p.PiecesDone == n && p.Lazy.Read > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pieces read and read ahead into (%d) never all arrived, or the reads were not counted:\n%s", n, c.output())
		}
		select {
		case <-c.done:
			t.Fatal("the client exited")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopLazy interrupts c and returns the bytes it downloaded.
func stopLazy(t *testing.T, c *client) int64 {
	t.Helper()
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	c.wait(30*time.Second, 0)
	m := summaryRe.FindStringSubmatch(c.output())
	if m == nil {
		t.Fatalf("no session summary in the log")
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// haveOnDisk is the pieces the resume file in dir records.
func (lt *lazyTorrent) haveOnDisk(t *testing.T, dir string) map[int]bool {
	t.Helper()
	r, err := storage.LoadResume(dir, lt.ih)
	if err != nil {
		t.Fatal(err)
	}
	bf, err := bitfield.FromBytes(r.Have, lt.info.NumPieces())
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]bool{}
	for i := range lt.info.NumPieces() {
		if bf.Has(i) {
			have[i] = true
		}
	}
	return have
}

func sameSet(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !b[i] {
			return false
		}
	}
	return true
}

// A lazy mount (torrent mount -lazy) of a three-file torrent: reads of a
// few ranges of the first and last files are right; the pieces fetched
// are exactly those of the reads and their readahead windows (a 1 MiB
// window after a seek), the bytes downloaded are no more than theirs, the
// file nobody read is not on disk and the others are sparse. Started
// again, what was read reads right without being fetched again, a new
// read fetches only its own window, and a libtorrent leecher that knows
// only this client gets data from it. Would catch a mount that fetches the
// whole torrent (btfs's way), readahead that runs on, or data not kept.
func TestLazyMount(t *testing.T) {
	t.Parallel()
	lt := newLazyTorrent(t,
		realpeers.FileSpec{Path: "z/a.bin", Size: 6 << 20},
		realpeers.FileSpec{Path: "z/b.bin", Size: 3<<20 + 333},
		realpeers.FileSpec{Path: "z/c.bin", Size: 8 << 20})
	dir, mnt := t.TempDir(), t.TempDir()
	type read struct {
		file   string
		off, n int64
	}
	reads := []read{{"a.bin", 2<<20 + 100, 64 << 10}, {"c.bin", 3 << 20, 64 << 10}, {"c.bin", 8<<20 - 5000, 5000}}
	want := map[int]bool{}
	var readBytes int64
	do := func(c *client, reads []read) {
		files := map[string]*os.File{}
		for _, r := range reads {
			f := files[r.file]
			if f == nil {
				var err error
				if f, err = os.Open(filepath.Join(mnt, "z", r.file)); err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				files[r.file] = f
			}
			lt.readInto(t, f, r.file, r.off, r.n, want)
			readBytes += r.n
		}
		if t.Failed() {
			t.FailNow()
		}
		waitPieces(t, c, len(want), lt.info.NumPieces())
	}

	c := lt.mount(t, dir, mnt)
	do(c, reads)
	down := stopLazy(t, c)
	t.Logf("first run: read %d bytes, %d pieces read and read ahead into (%d bytes), downloaded %d", readBytes, len(want), lt.bytesOf(want), down)
	if down > lt.bytesOf(want) || down < readBytes {
		t.Fatalf("downloaded %d bytes for %d read, whose pieces and readahead are %d bytes", down, readBytes, lt.bytesOf(want))
	}
	if have := lt.haveOnDisk(t, dir); !sameSet(have, want) {
		t.Fatalf("pieces on disk %v, want those read and read ahead into: %v", have, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "z", "b.bin")); !os.IsNotExist(err) {
		t.Fatalf("b.bin, never read, is on disk: %v", err)
	}
	for _, name := range []string{"a.bin", "c.bin"} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, "z", name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Blocks*512 > 3<<20 {
			t.Fatalf("%s takes %d bytes on disk: more than was read and read ahead into", name, st.Blocks*512)
		}
	}

	// Again: the same reads fetch nothing; a new one, its window only.
	before := lt.bytesOf(want)
	c = lt.mount(t, dir, mnt)
	do(c, append(reads, read{"a.bin", 5 << 20, 4096}))
	port := c.waitFor(portRe, time.Second)[1]
	realpeers.StartLibtorrentLeecher(t, lt.torrent, t.TempDir(), realpeers.LTOptions{ConnectTo: []string{"127.0.0.1:" + port}})
	c.waitFor(uploadedRe, time.Minute)
	down = stopLazy(t, c)
	if fresh := lt.bytesOf(want) - before; down > fresh || down == 0 {
		t.Fatalf("second run downloaded %d bytes; its one new read's pieces are %d", down, fresh)
	}
	if have := lt.haveOnDisk(t, dir); !sameSet(have, want) {
		t.Fatalf("pieces on disk after the second run %v, want %v", have, want)
	}
}

// Two readers at once on a lazy mount, two places in one file, each
// through its own open file, reading in turn three 1 MiB blocks one after
// the other while the data arrives: each gets the right bytes, and each
// keeps its own readahead, as long as its own sequential run (3 MiB ahead
// after the third block). Would catch a window shared by the file's
// handles (each turn would look like a seek and keep it at 1 MiB) or
// readers that get each other's bytes.
func TestLazyTwoReaders(t *testing.T) {
	t.Parallel()
	lt := newLazyTorrent(t,
		realpeers.FileSpec{Path: "z/v.bin", Size: 24<<20 + 4321},
		realpeers.FileSpec{Path: "z/w.bin", Size: 1 << 20})
	dir, mnt := t.TempDir(), t.TempDir()
	c := lt.mount(t, dir, mnt)
	starts := []int64{1<<20 + 12345, 13 << 20}
	const block, n = 1 << 20, 3
	turn := []chan bool{make(chan bool, 1), make(chan bool, 1)}
	turn[0] <- true
	var wg sync.WaitGroup
	for k, start := range starts {
		f, err := os.Open(filepath.Join(mnt, "z", "v.bin"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range int64(n) {
				<-turn[k]
				lt.readSame(t, f, "v.bin", start+j*block, block)
				turn[1-k] <- true
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Each reader's last request asked for its 3 MiB run ahead, further
	// than any request before: the pieces up to there arrive for both,
	// and no more.
	want := map[int]bool{}
	for _, start := range starts {
		lt.window(want, lt.offset(t, "v.bin")+start, n*block, n*block)
	}
	waitPieces(t, c, len(want), lt.info.NumPieces())
	stopLazy(t, c)
	if have := lt.haveOnDisk(t, dir); !sameSet(have, want) {
		t.Fatalf("pieces fetched %v, want each reader's blocks and its own readahead %v", have, want)
	}
}
