package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/internal/minitracker"
)

// The demo's swarm: a tracker and a few rate-limited seeders in this
// process, so the download is visible for a few seconds.
var demoFiles = []struct {
	path string
	size int64
}{
	{"demo/video.bin", 40 << 20},
	{"demo/notes.txt", 12345},
	{"demo/empty", 0},
	{"demo/extras/photo.bin", 9<<20 + 7},
}

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("torrent demo", flag.ContinueOnError)
	seeders := fs.Int("seeders", 3, "number of seeders")
	rate := rateFlag(3_000_000)
	fs.Var(&rate, "seed-rate", "upload cap of each seeder")
	keep := fs.Bool("keep", false, "keep the demo's directory instead of removing it")
	g := fs.Bool("g", isTerminal(), "terminal UI (default: on when run in a terminal)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: torrent demo [flags]\n\nRuns a local swarm on loopback: a tracker and seeders started here, and the\nnormal client downloading a generated torrent from them.\n\nFlags:")
		printFlags(stderr, fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *seeders < 1 {
		return badInput("-seeders must be at least 1")
	}
	root, err := os.MkdirTemp("", "torrent-demo-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(stderr, "demo directory:", root)
	} else {
		defer os.RemoveAll(root)
	}
	seedDir, leechDir := filepath.Join(root, "seed"), filepath.Join(root, "leech")
	if err := makeDemoData(seedDir); err != nil {
		return err
	}
	os.MkdirAll(leechDir, 0o755)
	tr, err := minitracker.Start()
	if err != nil {
		return err
	}
	defer tr.Close()
	data, err := metainfo.Create(filepath.Join(seedDir, "demo"), metainfo.CreateOptions{Announce: []string{tr.URL}, PieceLength: 256 << 10})
	if err != nil {
		return err
	}
	torrentPath := filepath.Join(root, "demo.torrent")
	if err := os.WriteFile(torrentPath, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "demo: tracker %s, %d seeders at %s/s each, torrent %s\n", tr.URL, *seeders, human(int64(rate)), torrentPath)

	seedCtx, stopSeeds := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopSeeds(); wg.Wait() }()
	for n := range *seeders {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s, err := session.Open(torrentPath, session.Options{
			Dir: seedDir, Listener: ln, Seed: true, UpRate: int64(rate),
			Logger: hclog.NewNullLogger().Named(fmt.Sprint("seeder", n)),
		})
		if err != nil {
			ln.Close()
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); defer ln.Close(); s.Run(seedCtx) }()
	}
	// The leecher's first announce should find them all: trackers allow
	// the next one only 15 s later.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = tr.WaitPeers(wctx, *seeders)
	cancel()
	if ctx.Err() != nil {
		return nil // interrupted
	}
	if err != nil {
		return fmt.Errorf("demo: the seeders did not reach the tracker: %w", err)
	}
	_, df := newDownloadFlags()
	df.dir, df.seed, df.upRate, df.g = leechDir, false, 0, *g
	df.lsd = false // the demo swarm is its own; nothing to find on the network
	df.dht = false // the demo stays on loopback
	complete, err := download(ctx, torrentPath, df)
	if err != nil || !complete {
		return err // interrupted: nothing to compare
	}
	for _, f := range demoFiles {
		if err := sameFile(filepath.Join(seedDir, f.path), filepath.Join(leechDir, f.path)); err != nil {
			return fmt.Errorf("demo: downloaded data differs: %w", err)
		}
	}
	fmt.Fprintf(stderr, "demo: downloaded %d files from %d seeders over loopback; every byte matches the source\n", len(demoFiles), *seeders)
	return nil
}

func makeDemoData(dir string) error {
	rng := rand.NewChaCha8([32]byte{'d', 'e', 'm', 'o'})
	for _, f := range demoFiles {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		_, err = io.CopyN(out, rng, f.size)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	return nil
}

func sameFile(a, b string) error {
	x, err := os.ReadFile(a)
	if err != nil {
		return err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(x, y) {
		return fmt.Errorf("%s and %s differ", a, b)
	}
	return nil
}
