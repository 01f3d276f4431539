package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/torrent-dev/torrent/host/dht"
	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/lsd"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/sdk"
)

var stderr io.Writer = os.Stderr

const downloadUsage = `usage: torrent [flags] FILE.torrent
       torrent create [-a URL[,URL]]... [-w URL]... [-source TAG] [-piece-length N] [-o OUT] PATH
       torrent info [-json] FILE.torrent
       torrent verify [-dir DIR] FILE.torrent
       torrent mount DIR MOUNTPOINT
       torrent status [-json] [DIR]
       torrent stop [DIR]
       torrent plugins
       torrent demo

Downloads FILE.torrent into -dir, gives pieces to every peer that asks, and
seeds once complete. Started again in the same directory it downloads only
what is missing: pieces its resume file vouches for are taken as they are
where their files still have the size, mtime and inode recorded once the
data was on disk; files changed since are hashed again (-check: all).

Flags:
`

type downloadFlags struct {
	g            bool
	ui           string
	torfs        string
	picker       string
	reattach     reattachFlags
	dir          string
	port         int
	maxPeers     int
	peers        peersFlag
	seed         bool
	encrypt      bool
	lsd          bool
	upRate       rateFlag
	downRate     rateFlag
	wantRate     rateFlag
	logFile      string
	verbose      bool
	cpuProf      string
	memProf      string
	json         bool
	check        bool
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
	fs.BoolVar(&f.lsd, "lsd", true, "find peers on the local network by multicast (BEP 14); never for private torrents")
	fs.Var(&f.upRate, "up-rate", "upload cap, e.g. 24KB, 10MB; 0 = unlimited")
	fs.Var(&f.downRate, "down-rate", "download cap; 0 = unlimited")
	fs.Var(&f.wantRate, "want-rate", "ask the tracker for more peers while downloading slower than this")
	fs.StringVar(&f.logFile, "log", "", "also write the log to this file")
	fs.BoolVar(&f.verbose, "v", false, "debug logging")
	fs.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
	fs.StringVar(&f.memProf, "memprofile", "", "write a heap profile (pprof) at exit to this file")
	fs.Var(&f.only, "only", "fetch only the files whose path in the torrent matches the glob `PATTERN` (repeatable;\n"+
		"* and ? within a name, ** across directories, a directory means all under it,\na pattern without / matches at any depth)")
	fs.Var(&f.skip, "skip", "do not fetch the files matching the glob `PATTERN` (repeatable; as -only)")
	fs.BoolVar(&f.dht, "dht", true, "find peers and announce the torrent on the DHT (BEP 5; never for a private torrent)")
	fs.Var(&f.dhtBootstrap, "dht-bootstrap", "DHT nodes to bootstrap from, HOST:PORT,... (used while the routing table kept in -dir is empty)")
	fs.BoolVar(&f.json, "json", false, "print events as JSON, one object a line, on stdout (docs/json.md)")
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
		return badInput("flags go before FILE.torrent: torrent %s %s (see torrent -h)", strings.Join(fs.Args()[1:], " "), fs.Arg(0))
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return badInput("want exactly one FILE.torrent, got %d arguments", fs.NArg())
	}
	stop, err := startProfiles(f.cpuProf, f.memProf)
	if err != nil {
		return err
	}
	defer stop()
	if f.json {
		f.events = newJSONEvents(os.Stdout, nil, nil)
	}
	complete, err := download(ctx, fs.Arg(0), f)
	if f.events != nil {
		f.events.finish(err, ctx.Err() != nil, f.seed, complete)
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
	con, closeLog, err := newConsole(f)
	if err != nil {
		return false, err
	}
	defer closeLog()
	log := con.logger
	picker := f.picker
	if picker == "builtin" {
		picker = ""
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
	node, closeDHT := startDHTNode(f, torrentPath, ln, udp, log)
	defer closeDHT()
	s, err := session.Open(torrentPath, session.Options{
		Dir: f.dir, FullCheck: f.check, Listener: ln, Peers: f.peers, Seed: f.seed,
		UpRate: int64(f.upRate), DownRate: int64(f.downRate), WantRate: int64(f.wantRate), MaxPeers: f.maxPeers,
		Picker: picker, Reattach: debug.picker, Logger: log, Checking: con.checking, EncryptOutgoing: f.encrypt,
		LSD:  lsdCfg,
		Only: f.only, Skip: f.skip,
		DHT: node,
	})
	if err != nil {
		return false, usageError{err} // an unreadable or invalid torrent
	}
	// Once the torrent is known to be good, before any peer is contacted.
	if err := makeDataDir(f.dir); err != nil {
		return false, err
	}
	if err := makeMountpoint(f.torfs); err != nil {
		return false, err
	}
	log.Info("starting", "torrent", s.Meta.Info.Name, "size", human(s.Meta.Info.Length),
		"pieces", s.Meta.Info.NumPieces(), "port", ln.Addr().(*net.TCPAddr).Port, "dir", f.dir)
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	if f.events != nil {
		f.events.sel = s.Sel
		defer f.events.begin(s.Meta, con.ring, s, f.dir, ln.Addr().(*net.TCPAddr).Port)()
	}
	api := hostapi.New(s, con.ring, quit)
	defer serveControl(f.dir, api, log.Named("control"))()
	if f.torfs != "" {
		if m := mount(ctx, api, f.torfs, debug.torfs, con.logger.Named("torfs")); m != nil {
			defer m.Unmount()
		}
	}
	var uiDone func()
	if f.g || debug.ui != nil {
		uiDone = startUI(ctx, con, api, f.ui, debug.ui)
	}
	stop := con.show(ctx, s)
	err = s.Run(ctx)
	stop()
	if uiDone != nil {
		uiDone()
	}
	if err != nil {
		return false, err
	}
	complete = s.Stats().Missing == 0
	if complete {
		con.logger.Info("complete", "name", s.Meta.Info.Name)
	}
	return complete, nil
}
