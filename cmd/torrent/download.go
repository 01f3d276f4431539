package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/torrent-dev/torrent/host/dht"
	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/lsd"
	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/sdk"
)

var stderr io.Writer = os.Stderr

const downloadUsage = `usage: torrent [flags] MAGNET|FILE.torrent
       torrent create [-a URL[,URL]]... [-w URL]... [-source TAG] [-piece-length N] [-o OUT] PATH
       torrent info [-json] FILE.torrent|MAGNET
       torrent verify [-dir DIR] FILE.torrent
       torrent mount DIR MOUNTPOINT
       torrent mount -lazy [flags] MAGNET|FILE.torrent MOUNTPOINT
       torrent status [-json] [DIR]
       torrent stop [DIR]
       torrent plugins
       torrent demo

Downloads the torrent of a magnet link or a .torrent file into -dir, gives
pieces to every peer that asks, and seeds once complete. Started again in the
same directory it downloads only what is missing: pieces its resume file
vouches for are taken as they are where their files still have the size,
mtime and inode recorded once the data was on disk; files changed since are
hashed again (-check: all).

A magnet link ('magnet:?xt=urn:btih:...', quoted for the shell) is first
resolved: the torrent's metadata is fetched from the link's peers (x.pe, and
-peer), its trackers (tr) and the DHT, checked against its info-hash, and
kept in -dir, so a restart with the same link needs no peer for it.
-metadata-only stops there and writes NAME.torrent.

Flags:
`

type downloadFlags struct {
	g            bool
	ui           string
	torfs        string
	lazy         bool
	picker       string
	reattach     reattachFlags
	dir          string
	port         int
	maxPeers     int
	peers        peersFlag
	seed         bool
	encrypt      bool
	lsd          bool
	pex          bool
	upRate       rateFlag
	downRate     rateFlag
	wantRate     rateFlag
	logFile      string
	verbose      bool
	cpuProf      string
	memProf      string
	json         bool
	check        bool
	metaOnly     bool
	events       *jsonEvents // -json: the event stream on stdout
	only         patternsFlag
	skip         patternsFlag
	dht          bool
	dhtBootstrap bootstrapFlag
}

func newDownloadFlags() (*flag.FlagSet, *downloadFlags) {
	f := &downloadFlags{upRate: 24_000, wantRate: 50_000, dhtBootstrap: dht.DefaultBootstrap}
	fs := flag.NewFlagSet("torrent", flag.ContinueOnError)
	fs.BoolVar(&f.g, "g", false, "full-screen terminal UI (a UI plugin, see -ui)")
	fs.StringVar(&f.ui, "ui", "term", "UI plugin for -g: NAME (runs torrent-ui-NAME) or PATH")
	fs.StringVar(&f.torfs, "torfs", "", "mount the torrent's files read-only at this directory while it runs")
	fs.BoolVar(&f.lazy, "lazy", false, "with -torfs: fetch only what readers of the mount read and read ahead into;\n"+
		"it is kept for the next start and seeded (torrent mount -lazy). Every file is in\n"+
		"the mount and fetched as read; -only and -skip choose what counts as complete.\n"+
		"It runs until interrupted or torrent stop, with -seed=false too")
	fs.StringVar(&f.picker, "picker", "random", "picker plugin: NAME (runs torrent-picker-NAME) or PATH; \"builtin\" for none")
	fs.StringVar(&f.reattach.picker, "picker-reattach", "", "attach to a picker started by hand with "+sdk.DebugEnv+"=1 (the JSON it prints)")
	fs.StringVar(&f.reattach.ui, "ui-reattach", "", "like -picker-reattach, for a UI plugin (implies -g)")
	fs.StringVar(&f.reattach.torfs, "torfs-reattach", "", "like -picker-reattach, for torfs (with -torfs)")
	fs.StringVar(&f.dir, "dir", ".", "directory for data and resume state")
	fs.IntVar(&f.port, "port", 0, "listen port (default: first free port from 6881 up)")
	fs.IntVar(&f.maxPeers, "max-peers", swarm.DefaultMaxPeers, fmt.Sprintf("most peers connected at once; with up to %d incoming handshakes besides,\n"+
		"the client holds at most max-peers+%[1]d peer sockets", swarm.DefaultMaxHalfOpen))
	fs.Var(&f.peers, "peer", "also connect to this peer, HOST:PORT (repeatable)")
	fs.BoolVar(&f.check, "check", false, "hash every piece at start, trusting nothing the resume file records")
	fs.BoolVar(&f.seed, "seed", true, "keep seeding once complete; -seed=false exits when done")
	fs.BoolVar(&f.encrypt, "encrypt", false, "open connections with an encrypted (MSE) handshake, falling back to plain;\nfor peers that accept only encrypted connections")
	fs.BoolVar(&f.pex, "pex", true, "exchange peer addresses with peers (BEP 11 ut_pex); never for private torrents")
	fs.BoolVar(&f.lsd, "lsd", true, "find peers on the local network by multicast (BEP 14); never for private torrents")
	fs.Var(&f.upRate, "up-rate", "upload cap, e.g. 24KB, 10MB; 0 = unlimited")
	fs.Var(&f.downRate, "down-rate", "download cap; 0 = unlimited")
	fs.Var(&f.wantRate, "want-rate", "ask the tracker for more peers while downloading slower than this")
	fs.StringVar(&f.logFile, "log", "", "also write the log to this file")
	fs.BoolVar(&f.verbose, "v", false, "debug logging")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
	fs.StringVar(&f.memProf, "memprofile", "", "write a heap profile (pprof) at exit to this file")
	fs.Var(&f.only, "only", "fetch only the files whose path in the torrent matches the glob `PATTERN` (repeatable;\n"+
		"* and ? within a name, ** across directories, a directory means all under it,\na pattern without / matches at any depth). Without -only and -skip, the files chosen in the\nterminal UI in an earlier run in this -dir are fetched")
	fs.Var(&f.skip, "skip", "do not fetch the files matching the glob `PATTERN` (repeatable; as -only)")
	fs.BoolVar(&f.dht, "dht", true, "find peers and announce the torrent on the DHT (BEP 5; never for a private torrent)")
	fs.Var(&f.dhtBootstrap, "dht-bootstrap", "DHT nodes to bootstrap from, HOST:PORT,... (used while the routing table kept in -dir is empty)")
	fs.BoolVar(&f.json, "json", false, "print events as JSON, one object a line, on stdout (docs/json.md)")
	fs.BoolVar(&f.metaOnly, "metadata-only", false, "for a magnet link: fetch the metadata, write NAME.torrent into -dir, print its path and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, downloadUsage)
		printFlags(stderr, fs)
	}
	return fs, f
}

func cmdDownload(ctx context.Context, args []string) error {
	fs, f := newDownloadFlags()
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 && strings.HasPrefix(fs.Arg(1), "-") {
		return badInput("flags go before MAGNET or FILE.torrent: torrent %s %s (see torrent -h)", strings.Join(fs.Args()[1:], " "), fs.Arg(0))
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return badInput("want exactly one MAGNET or FILE.torrent, got %d arguments", fs.NArg())
	}
	return runDownload(ctx, fs.Arg(0), f)
}

// runDownload is cmdDownload once the flags are read.
func runDownload(ctx context.Context, arg string, f *downloadFlags) error {
	stop, err := startProfiles(f.cpuProf, f.memProf)
	if err != nil {
		return err
	}
	defer stop()
	if f.json {
		f.events = newJSONEvents(os.Stdout, nil, nil)
	}
	if f.metaOnly && f.events != nil {
		f.events.metadataOnly = true
	}
	complete, err := download(ctx, arg, f)
	if f.events != nil {
		if f.metaOnly && err == nil && ctx.Err() == nil {
			f.events.stop("metadata", complete)
		} else {
			f.events.finish(err, ctx.Err() != nil, f.seed, complete)
		}
	}
	return err
}

// download runs the client on one torrent; complete says whether every
// piece was verified when it stopped (a user may quit before).
func download(ctx context.Context, torrentPath string, f *downloadFlags) (complete bool, err error) {
	if f.port < 0 || f.port > 65535 {
		return false, badInput("-port %d is out of range", f.port)
	}
	if f.maxPeers < 1 {
		return false, badInput("-max-peers %d: want at least 1", f.maxPeers)
	}
	debug, err := f.reattach.parse()
	if err != nil {
		return false, err
	}
	if debug.torfs != nil && f.torfs == "" {
		return false, badInput("-torfs-reattach needs -torfs MOUNTPOINT")
	}
	if f.lazy && (f.torfs == "" || f.metaOnly) {
		return false, badInput("-lazy fetches what is read from the mount: it needs -torfs MOUNTPOINT")
	}
	con, closeLog, err := newConsole(f)
	if err != nil {
		return false, err
	}
	defer closeLog()
	log := con.logger
	if f.lazy && !f.seed {
		// A lazy mount has no end of its own: its last pieces come in
		// while a reader still reads, and ending then would unmount
		// under it. It serves reads until stopped.
		log.Warn("-seed=false does not end a lazy run: it serves reads until interrupted or torrent stop")
		f.seed = true
	}
	picker := f.picker
	if picker == "builtin" {
		picker = ""
	}
	src, err := parseSource(torrentPath, f)
	if err != nil {
		return false, err
	}
	ln, udp, err := listenPeers(f)
	if err != nil {
		return false, err
	}
	defer ln.Close()
	var lsdCfg *lsd.Config
	if f.lsd {
		lsdCfg = &lsd.Config{}
	}
	node, closeDHT := startDHTNode(f, src.private(), ln, udp, log)
	defer closeDHT()
	s, err := src.open(session.Options{
		Dir: f.dir, FullCheck: f.check, Listener: ln, Peers: f.peers, Seed: f.seed,
		UpRate: int64(f.upRate), DownRate: int64(f.downRate), WantRate: int64(f.wantRate), MaxPeers: f.maxPeers,
		Picker: picker, Reattach: debug.picker, Logger: log, Checking: con.checking, EncryptOutgoing: f.encrypt,
		LSD: lsdCfg, Only: f.only, Skip: f.skip, DHT: node, NoPEX: !f.pex, MetadataOnly: f.metaOnly, Lazy: f.lazy,
		Mounted: f.torfs != "",
	})
	if err != nil {
		return false, err
	}
	// Once the torrent is known to be good, before any peer is contacted.
	if err := makeDataDir(f.dir); err != nil {
		return false, err
	}
	if err := makeMountpoint(f.torfs); err != nil {
		return false, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if m := s.Meta(); m != nil {
		log.Info("starting", "torrent", m.Info.Name, "size", human(m.Info.Length),
			"pieces", m.Info.NumPieces(), "port", port, "dir", f.dir)
	} else {
		log.Info("starting", "torrent", s.Name(), "info_hash", fmt.Sprintf("%x", s.InfoHash()), "metadata", "unknown",
			"port", port, "dir", f.dir)
	}
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	if f.events != nil {
		defer f.events.begin(con.ring, s, f.dir, port)()
	}
	defer s.Close()
	api := hostapi.New(s, con.ring, quit)
	defer serveControl(f.dir, api, log.Named("control"))()
	var uiDone func()
	if f.g || debug.ui != nil {
		uiDone = startUI(ctx, con, api, f.ui, debug.ui)
	}
	stop := con.show(ctx, s)
	var once sync.Once
	// The console and the UI end before the last log lines, so those
	// reach the terminal the UI gives back.
	endShow := func() {
		once.Do(func() {
			stop()
			if uiDone != nil {
				uiDone()
			}
		})
	}
	defer endShow()
	// A magnet link's files are known only with its metadata: torfs
	// mounts once it is there.
	if err := s.FetchMetadata(ctx); err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	if f.metaOnly {
		endShow()
		return false, writeTorrentFile(s, f)
	}
	if f.torfs != "" {
		if m := mount(ctx, api, f.torfs, debug.torfs, con.logger.Named("torfs")); m != nil {
			defer m.Unmount()
		}
	}
	err = s.Run(ctx)
	endShow()
	if err != nil {
		return false, err
	}
	complete = s.Stats().Missing == 0
	if complete {
		con.logger.Info("complete", "name", s.Meta().Info.Name)
	}
	return complete, nil
}

// source is what a download was given: a .torrent (meta) or a magnet link.
type source struct {
	meta   *metainfo.MetaInfo
	magnet *magnet.Magnet
}

// parseSource reads a magnet link or a .torrent file once, before any port
// or directory is taken; a bad one is the caller's error (exit 2), naming
// what is wrong.
func parseSource(arg string, f *downloadFlags) (source, error) {
	if !magnet.IsMagnet(arg) {
		if f.metaOnly {
			return source{}, badInput("-metadata-only is for a magnet link; %s is a file", arg)
		}
		m, err := metainfo.Load(arg)
		if err != nil {
			return source{}, usageError{err} // an unreadable or invalid torrent
		}
		return source{meta: m}, nil
	}
	m, err := magnet.Parse(arg)
	if err != nil {
		return source{}, usageError{err}
	}
	return source{magnet: m}, nil
}

// private: BEP 27, no DHT for the torrent at all. A magnet link says
// nothing of privacy (the session keeps the DHT off for a torrent its
// metadata says is private); a .torrent does.
func (src source) private() bool { return src.meta != nil && src.meta.Info.Private }

func (src source) open(opts session.Options) (*session.Session, error) {
	if src.meta != nil {
		s, err := session.OpenMeta(src.meta, opts)
		if err != nil {
			return nil, usageError{err} // its layout does not fit (its files, -only)
		}
		return s, nil
	}
	return session.OpenMagnet(src.magnet, opts)
}

// writeTorrentFile is -metadata-only's result: NAME.torrent in -dir, its
// path on stdout (in the last metadata event with -json).
func writeTorrentFile(s *session.Session, f *downloadFlags) error {
	m, data := s.Meta(), s.TorrentFile()
	if m == nil || data == nil {
		return errors.New("no metadata to write")
	}
	// The name is sanitised: one path component, never . or ..
	p := filepath.Join(f.dir, m.Info.Name+".torrent")
	if old, err := os.ReadFile(p); err == nil && !bytes.Equal(old, data) {
		if om, err := metainfo.Parse(old); err != nil || om.InfoHash != m.InfoHash {
			return fmt.Errorf("%s exists and is another torrent: not overwritten (the metadata is in %s)", p, storage.MetadataPath(f.dir, m.InfoHash))
		}
	}
	if err := storage.SaveFile(f.dir, p, data); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	s.Logger().Info("wrote the torrent", "file", p)
	if f.events != nil {
		f.events.metadataDone(s, p)
	} else {
		fmt.Println(p)
	}
	return nil
}
