package session

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/selection"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// chooseFiles: pieces of 64 KiB straddle a|b and b|c, and b is most of
// the torrent.
var chooseFiles = []realpeers.FileSpec{
	{Path: "tree/a.bin", Size: 1<<20 + 4321},
	{Path: "tree/b.bin", Size: 6<<20 + 777},
	{Path: "tree/sub/c.bin", Size: 1<<20 + 99},
}

// slowSeeder serves chooseFiles from libtorrent at 1 MiB/s, so a change
// made a second into the download comes while most of it is still to do.
func slowSeeder(t *testing.T) (src, torrent string, addr netip.AddrPort) {
	t.Helper()
	src = t.TempDir()
	realpeers.MakeData(t, src, chooseFiles...)
	torrent = realpeers.MakeTorrent(t, src, "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	return src, torrent, loopback(seeder.Port)
}

// onlyIn is the pieces that hold bytes of file i of info and of no other.
func onlyIn(info *metainfo.Info, i int) map[int]bool {
	out := map[int]bool{}
	f := info.Files[i]
	first, last := info.PieceRange(f.Offset, f.Length)
	for p := first; p <= last; p++ {
		out[p] = true
	}
	for j, g := range info.Files {
		if j == i {
			continue
		}
		a, b := info.PieceRange(g.Offset, g.Length)
		for p := a; p <= b; p++ {
			delete(out, p)
		}
	}
	return out
}

func sameFileAs(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(x) != string(y) {
		t.Fatalf("%s (%d bytes) differs from %s (%d bytes)", b, len(y), a, len(x))
	}
}

// Skipping a file in the middle of a download from libtorrent: its pieces
// are no longer fetched (at most the few partly received at that moment
// are finished), the download completes with the other files, and
// without -seed the session ends there.
func TestSkipFileWhileDownloading(t *testing.T) {
	t.Parallel()
	src, torrent, seeder := slowSeeder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	dst := t.TempDir()
	logs := &logSink{t: t}
	s := startSession(t, ctx, &wg, torrent, dst, Options{Peers: []netip.AddrPort{seeder}, Logger: logs.logger("client")})
	info := &s.Meta().Info
	bOnly := onlyIn(info, 1)
	before := waitStats(t, ctx, s, "ten pieces", func(st swarm.Stats) bool { return st.Have.Count() >= 10 })
	if err := s.SetFile(1, true, selection.Normal); err != nil {
		t.Fatal(err)
	}
	if !s.Sel().Skips(info, info.Files[1]) {
		t.Fatal("Sel does not show b.bin skipped")
	}
	wg.Wait() // Run ends: complete, and no -seed
	st := s.Stats()
	if !st.Complete || st.Missing != 0 {
		t.Fatalf("run ended with %d pieces missing", st.Missing)
	}
	late := 0
	for p := range bOnly {
		if st.Have.Has(p) && !before.Have.Has(p) {
			late++
		}
	}
	// The stats were a moment old at the change, and a piece partly
	// received is finished rather than thrown away: a few, not the rest
	// of b.bin's pieces.
	if late > 8 {
		t.Fatalf("%d pieces only in b.bin were verified after it was skipped (%d had before, %d in all)", late, countIn(before, bOnly), len(bOnly))
	}
	if n := countIn(st, bOnly); n > len(bOnly)/2 {
		t.Fatalf("%d of b.bin's %d own pieces fetched: the skip did not stop them", n, len(bOnly))
	}
	sameFileAs(t, filepath.Join(src, "tree/a.bin"), filepath.Join(dst, "tree/a.bin"))
	sameFileAs(t, filepath.Join(src, "tree/sub/c.bin"), filepath.Join(dst, "tree/sub/c.bin"))
	if !logs.has("file selection changed") {
		t.Fatal("the change is not logged")
	}
}

func countIn(st swarm.Stats, pieces map[int]bool) int {
	n := 0
	for p := range pieces {
		if st.Have.Has(p) {
			n++
		}
	}
	return n
}

// Choosing again a file skipped from the start (-skip) once the others
// are complete: it is fetched and ends identical to the seeder's, and its
// bytes that pieces shared with a.bin and c.bin had put in the parts file
// are moved to it, not fetched again (those pieces stay verified
// throughout).
func TestChooseSkippedFileWhileSeeding(t *testing.T) {
	t.Parallel()
	src, torrent, seeder := slowSeeder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	dst := t.TempDir()
	s := startSession(t, ctx, &wg, torrent, dst, Options{Seed: true, Skip: []string{"b.bin"}, Peers: []netip.AddrPort{seeder}, Logger: testLogger(t, "client")})
	info := &s.Meta().Info
	b := info.Files[1]
	first, last := info.PieceRange(b.Offset, b.Length)
	st := waitStats(t, ctx, s, "a.bin and c.bin", func(st swarm.Stats) bool { return st.Complete })
	if !st.Have.Has(first) || !st.Have.Has(last) {
		t.Fatalf("pieces %d and %d (shared with a.bin, c.bin) not verified", first, last)
	}
	if _, err := os.Stat(filepath.Join(dst, "tree/b.bin")); !os.IsNotExist(err) {
		t.Fatalf("b.bin exists while skipped: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, storage.PartsName(s.InfoHash()))); err != nil {
		t.Fatalf("no parts file for b.bin's shared bytes: %v", err)
	}
	down := st.Downloaded
	if err := s.SetFile(1, false, selection.High); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); !st.Have.Has(first) || !st.Have.Has(last) {
		t.Fatal("the shared pieces were lost by choosing b.bin")
	}
	if _, err := os.Stat(filepath.Join(dst, "tree/b.bin")); err != nil {
		t.Fatalf("b.bin not created when chosen: %v", err)
	}
	st = waitStats(t, ctx, s, "b.bin too", func(st swarm.Stats) bool {
		return st.Complete && st.Wanted.Has(first+1) && st.Have.Count() == info.NumPieces()
	})
	cancel()
	wg.Wait()
	for _, f := range []string{"tree/a.bin", "tree/b.bin", "tree/sub/c.bin"} {
		sameFileAs(t, filepath.Join(src, f), filepath.Join(dst, f))
	}
	// Only b.bin's own pieces came over the wire after the change (and
	// endgame duplicates, counted as wasted).
	own := int64(0)
	for p := first + 1; p < last; p++ {
		own += min(info.PieceLength, info.Length-int64(p)*info.PieceLength)
	}
	if got := st.Downloaded - down - st.Wasted; got > own {
		t.Fatalf("%d bytes fetched for b.bin, its own pieces are %d: shared pieces fetched again", got, own)
	}
}

// Files chosen and skipped while a run goes on (the terminal UI's space,
// + and -) are the next run's choices in the same directory: b.bin,
// skipped a moment into the first run, stays skipped at high priority, so
// the second run, with no peer, is complete with what the first one left
// (the bytes b.bin shares with a.bin and c.bin in the parts file
// included). -only and -skip choose anew and drop the saved choices.
func TestFileChoicesKeptForTheNextRun(t *testing.T) {
	t.Parallel()
	src, torrent, seeder := slowSeeder(t)
	dst := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	run, stop := context.WithCancel(ctx)
	s := startSession(t, run, &wg, torrent, dst, Options{Peers: []netip.AddrPort{seeder}, Logger: testLogger(t, "first")})
	if err := s.SetFile(1, true, selection.High); err != nil {
		t.Fatal(err)
	}
	waitStats(t, ctx, s, "a.bin and c.bin", func(st swarm.Stats) bool { return st.Complete })
	stop()
	wg.Wait()

	again, err := Open(torrent, Options{Dir: dst, Logger: testLogger(t, "second")})
	if err != nil {
		t.Fatal(err)
	}
	info := &again.Meta().Info
	for i, f := range info.Files {
		if skip, prio := again.Sel().Skips(info, f), again.Sel().Priority(info, f); skip != (i == 1) || prio != map[bool]selection.Priority{true: selection.High}[i == 1] {
			t.Errorf("%v after a restart: skipped %v, priority %v", f.Path, skip, prio)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if err := again.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("second run, no peers: %v (ctx %v)", err, ctx.Err())
	}
	if !again.Stats().Complete {
		t.Fatal("the second run ended without the chosen files")
	}
	for _, f := range []string{"tree/a.bin", "tree/sub/c.bin"} {
		sameFileAs(t, filepath.Join(src, f), filepath.Join(dst, f))
	}

	third, err := Open(torrent, Options{Dir: dst, Skip: []string{"c.bin"}, Logger: testLogger(t, "third")})
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if sel := third.Sel(); sel.Skips(info, info.Files[1]) || !sel.Skips(info, info.Files[2]) {
		t.Error("-skip c.bin did not replace the saved choices")
	}
	if _, err := os.Stat(storage.SelectionPath(dst, third.InfoHash())); !os.IsNotExist(err) {
		t.Errorf("the saved choices are still there after -skip: %v", err)
	}
}
