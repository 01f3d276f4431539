package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/torfs"
	"github.com/torrent-dev/torrent/sdk"
)

// mount starts torfs for a download; a failure is logged and the download
// goes on.
func mount(ctx context.Context, api *hostapi.Server, dir string, reattach *sdk.Reattach, log hclog.Logger) *torfs.Mount {
	// Said here, in plain words: fusermount's own errors are terse.
	st, err := statWithin(dir, 2*time.Second)
	switch {
	case errors.Is(err, errNoAnswer):
		// A hung mount left by a killed torfs: the plugin unmounts it.
	case err != nil || !st.IsDir():
		why := "not a directory"
		if err != nil {
			why = strings.TrimPrefix(err.Error(), "stat "+dir+": ")
		}
		log.Warn("cannot mount; the download goes on", "mountpoint", dir, "error", why)
		return nil
	}
	m, err := torfs.Start(ctx, torfs.Config{Mountpoint: dir, Reattach: reattach, Logger: log, Host: api})
	if err != nil {
		log.Warn("cannot mount; the download goes on", "mountpoint", dir, "error", err)
		return nil
	}
	api.SetMountpoint(dir)
	log.Info("mounted", "mountpoint", dir)
	return m
}

var errNoAnswer = errors.New("no answer")

// statWithin is os.Stat that gives up after d: a stale FUSE mount can
// leave a stat blocked for good, and the download must not wait on it.
func statWithin(path string, d time.Duration) (os.FileInfo, error) {
	type result struct {
		st  os.FileInfo
		err error
	}
	c := make(chan result, 1)
	go func() { st, err := os.Stat(path); c <- result{st, err} }()
	select {
	case r := <-c:
		return r.st, r.err
	case <-time.After(d):
		return nil, errNoAnswer
	}
}

// cmdMount is the original client's use of torfs: every torrent of a
// directory, as earlier runs left it, mounted until interrupted.
func cmdMount(ctx context.Context, args []string) error {
	for _, a := range args {
		if a == "-lazy" || a == "--lazy" || a == "-lazy=true" || a == "--lazy=true" {
			return cmdLazyMount(ctx, args)
		}
	}
	fs := flag.NewFlagSet("torrent mount", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "debug logging")
	var r reattachFlags
	fs.StringVar(&r.torfs, "torfs-reattach", "", "attach to a torfs started by hand with "+sdk.DebugEnv+"=1 (the JSON it prints)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: torrent mount DIR MOUNTPOINT\n\nMounts every torrent in DIR (its .torrent files and the data earlier runs left\nthere) read-only at MOUNTPOINT, one directory per torrent. Missing pieces read\nas errors (EIO). Runs until interrupted.\n\n       torrent mount -lazy [flags] MAGNET|FILE.torrent MOUNTPOINT\n\nMounts one torrent and fetches only what is read (torrent -h: -lazy).\n\nFlags:")
		printFlags(stderr, fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return badInput("want DIR and MOUNTPOINT, got %d arguments", fs.NArg())
	}
	debug, err := r.parse()
	if err != nil {
		return err
	}
	level := hclog.Info
	if *verbose {
		level = hclog.Debug
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "torrent", Level: level, Output: os.Stderr, TimeFormat: "15:04:05.000"})
	lib, err := hostapi.OpenDir(ctx, fs.Arg(0), log)
	if err != nil {
		return usageError{err}
	}
	defer lib.Close()
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	api := hostapi.NewLibrary(lib, quit)
	m, err := torfs.Start(ctx, torfs.Config{Mountpoint: fs.Arg(1), PerTorrentDirs: true, Reattach: debug.torfs, Logger: log.Named("torfs"), Host: api})
	if err != nil {
		return err
	}
	defer m.Unmount()
	log.Info("mounted; interrupt to unmount", "dir", fs.Arg(0), "mountpoint", fs.Arg(1))
	select {
	case <-ctx.Done():
	case <-m.Exited():
		return fmt.Errorf("the torfs plugin exited")
	}
	return nil
}

// cmdLazyMount is torrent mount -lazy TORRENT MOUNTPOINT: the download
// command with -lazy -torfs MOUNTPOINT, and its flags.
func cmdLazyMount(ctx context.Context, args []string) error {
	fs, f := newDownloadFlags()
	usage := fs.Usage
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: torrent mount -lazy [flags] MAGNET|FILE.torrent MOUNTPOINT\n\n"+
			"Mounts the torrent's files read-only at MOUNTPOINT and fetches only what\n"+
			"readers read and read ahead into; that data stays in -dir for the next\n"+
			"start and is seeded. Every file is there; -only and -skip choose what\n"+
			"counts as complete. Runs until interrupted or torrent stop, with\n"+
			"-seed=false too. The flags are the download's:\n\n")
		usage()
	}
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return badInput("want MAGNET or FILE.torrent and MOUNTPOINT, got %d arguments", fs.NArg())
	}
	if f.torfs != "" {
		return badInput("-torfs and a MOUNTPOINT argument: give the mountpoint once")
	}
	f.torfs = fs.Arg(1)
	return runDownload(ctx, fs.Arg(0), f)
}
