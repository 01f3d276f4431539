package session

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/tmpfs"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// logSink keeps a session's log lines for assertions and passes them to
// the test's log.
type logSink struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

func (l *logSink) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

func (l *logSink) logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: l})
}

// waitStats polls the session until cond holds, failing the test when ctx
// ends first.
func waitStats(t *testing.T, ctx context.Context, s *Session, what string, cond func(swarm.Stats) bool) swarm.Stats {
	t.Helper()
	for {
		st := s.Stats()
		if s.swarm.Load() != nil && cond(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last stats: missing %d of %d, status %q", what, ctx.Err(), st.Missing, st.NumPieces, st.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitProgress waits until a libtorrent peer reports at least f done; a
// piece that failed its hash check there fails the test at once.
func waitProgress(t *testing.T, ctx context.Context, p *realpeers.Peer, f float64) {
	t.Helper()
	for p.Progress() < f {
		if out := p.Output(); strings.Contains(out, "HASHFAIL") {
			t.Fatalf("libtorrent received bad data from us:\n%s", out)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("libtorrent peer at %.3f, waiting for %.3f: %v\n%s", p.Progress(), f, ctx.Err(), p.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func loopback(port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// checkOnDisk fails the test unless every piece set in have hashes right
// in dir.
func checkOnDisk(t *testing.T, s *Session, dir string, have interface{ Has(int) bool }, what string) int {
	t.Helper()
	st, err := storage.Open(dir, Layout(&s.Meta().Info, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	for i := range st.NumPieces() {
		if !have.Has(i) {
			continue
		}
		buf := make([]byte, st.PieceLen(i))
		if _, err := st.ReadAt(buf, int64(i)*s.Meta().Info.PieceLength); err != nil || !st.CheckPiece(i, buf) {
			t.Fatalf("%s: piece %d is not on disk (%v)", what, i, err)
		}
		n++
	}
	return n
}

// A download onto a real tmpfs smaller than the torrent: when the disk
// fills the client says so (log and status), keeps running, keeps every
// verified piece and a valid resume file, serves what it has to a
// libtorrent leecher and fetches nothing more; once the filesystem grows
// it finishes by itself, byte for byte.
func TestDiskFullStallsThenResumes(t *testing.T) {
	fs := tmpfs.Mount(t, "8m") // first: unmounted after the session has stopped
	src := t.TempDir()
	// Larger than the piece memory budget (16 MiB) plus the filesystem, so
	// a part of it is never requested while the disk is full.
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/a.bin", Size: 3<<20 + 7},
		realpeers.FileSpec{Path: "tree/sub/b.bin", Size: 30<<20 + 12345}, realpeers.FileSpec{Path: "tree/c.bin", Size: 262145})
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	logs := &logSink{t: t}
	s := startSession(t, ctx, &wg, torrent, fs.Dir, Options{Seed: true, Peers: []netip.AddrPort{loopback(seeder.Port)}, Logger: logs.logger("client")})

	want := "disk full at " + fs.Dir
	st := waitStats(t, ctx, s, "the disk-full status", func(st swarm.Stats) bool { return strings.HasPrefix(st.Status, want) })
	if !logs.has(want) {
		t.Fatalf("no log line says %q", want)
	}
	r, err := storage.LoadResume(fs.Dir, s.Meta().InfoHash)
	if err != nil {
		t.Fatalf("resume file at the disk-full moment: %v", err)
	}
	saved, err := bitfield.FromBytes(r.Have, st.NumPieces)
	if err != nil {
		t.Fatalf("resume file at the disk-full moment: %v", err)
	}
	checkOnDisk(t, s, fs.Dir, saved, "resume file")
	have := checkOnDisk(t, s, fs.Dir, st.Have, "verified before the disk filled")
	if have == 0 || st.Missing == 0 {
		t.Fatalf("%d pieces verified, %d missing: the disk should have filled half way", have, st.Missing)
	}

	// Still seeding: a libtorrent leecher gets what we have.
	leecher := realpeers.StartLibtorrentLeecher(t, torrent, t.TempDir(), realpeers.LTOptions{
		ConnectTo: []string{s.opts.Listener.Addr().String()}})
	waitProgress(t, ctx, leecher, 0.9*float64(have)/float64(st.NumPieces))

	// Nothing more is fetched while the disk is full than the room it
	// still has: a save that fails frees its temp file, and a retried write
	// may then fit, end the stall and let a few pieces in before the disk
	// is full again. A client that went on requesting would fetch at the
	// seeder's full speed instead.
	before, free := s.Stats(), fs.Free()
	time.Sleep(3 * time.Second)
	after := s.Stats()
	const slack = 2 << 20 // one round of requests in flight
	if after.Downloaded-before.Downloaded > free+slack || after.Wasted != before.Wasted || !strings.HasPrefix(after.Status, want) {
		t.Fatalf("while the disk is full (%d bytes free): downloaded %d then %d bytes, wasted %d then %d, status %q",
			free, before.Downloaded, after.Downloaded, before.Wasted, after.Wasted, after.Status)
	}
	select {
	case <-s.swarm.Load().Stopped():
		t.Fatal("the client stopped on a full disk")
	default:
	}

	grown := time.Now()
	fs.Resize("64m")
	waitStats(t, ctx, s, "the download to complete after the disk grew", func(st swarm.Stats) bool { return st.Complete && st.Status == "" })
	t.Logf("complete %s after the filesystem grew", time.Since(grown).Round(100*time.Millisecond))
	if !logs.has("downloading resumes") {
		t.Fatal("no log line says the download resumed")
	}
	realpeers.SameFiles(t, src, fs.Dir)
	// Duplicate blocks of the endgame aside, every byte came once: no
	// piece was fetched again.
	if st := s.Stats(); st.Downloaded-st.Wasted != s.Meta().Info.Length {
		t.Errorf("downloaded %d bytes (%d wasted) for a torrent of %d", st.Downloaded, st.Wasted, s.Meta().Info.Length)
	}
}

// A seed whose files are changed under it never sends a block that is not
// the torrent's: a libtorrent leecher (which checks every piece) sees no
// hash failure and ends with the right data, and the seed fetches the
// spoilt pieces again from a libtorrent seeder and recreates a deleted
// file.
func TestDataChangedUnderSeed(t *testing.T) {
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	ours := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(src, "tree"), ours).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	other := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	logs := &logSink{t: t}
	// A slow upload, so the leecher is still at it when the files change.
	s := startSession(t, ctx, &wg, torrent, ours, Options{Seed: true, UpRate: 1 << 20,
		Peers: []netip.AddrPort{loopback(other.Port)}, Logger: logs.logger("seed")})
	waitStats(t, ctx, s, "the seed to start", func(st swarm.Stats) bool { return st.Complete })

	// Overwritten in place with size and mtime kept: only the hash check
	// of what is read for upload can see it.
	z := filepath.Join(ours, "tree/z.bin")
	fi, err := os.Stat(z)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, z, 2<<20, 300<<10)
	if err := os.Chtimes(z, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}

	ldir := t.TempDir()
	leecher := realpeers.StartLibtorrentLeecher(t, torrent, ldir, realpeers.LTOptions{ConnectTo: []string{s.opts.Listener.Addr().String()}})
	waitProgress(t, ctx, leecher, 0.15)
	// Mid-seed: one file cut short, one deleted. Neither shares a piece
	// with z.bin, so nothing but the upload check can find z.bin's change.
	if err := os.Truncate(filepath.Join(ours, "tree/a.bin"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(ours, "tree/sub/b.bin")); err != nil {
		t.Fatal(err)
	}

	waitProgress(t, ctx, leecher, 1)
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	if out := leecher.Output(); strings.Contains(out, "HASHFAIL") {
		t.Fatalf("the leecher received bad data from the seed:\n%s", out)
	}
	realpeers.SameFiles(t, src, ldir)

	waitStats(t, ctx, s, "the seed to repair its data", func(st swarm.Stats) bool {
		return st.Complete && st.Lost > 0 && sameDefaultTree(src, ours)
	})
	if !logs.has("data changed on disk") {
		t.Fatal("no log line says the data changed on disk")
	}
	realpeers.SameFiles(t, src, ours)
	t.Logf("pieces found changed and fetched again: %d", s.Stats().Lost)
}

// overwrite puts n random bytes at off in the file, keeping its size.
func overwrite(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{99}).Read(b)
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameDefaultTree reports whether got holds realpeers.DefaultTree as want does.
func sameDefaultTree(want, got string) bool {
	for _, f := range realpeers.DefaultTree {
		a, err1 := os.ReadFile(filepath.Join(want, f.Path))
		b, err2 := os.ReadFile(filepath.Join(got, f.Path))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			return false
		}
	}
	return true
}
