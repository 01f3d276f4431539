package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

const statusUsage = `usage: torrent status [-json] [DIR]

Asks the client running in DIR (default: this directory) how far it is:
progress, state, rates, peers and the tracker. It reads the client's
control socket DIR/.torrent.sock; nothing listens on the network.

  torrent status                 the client running here
  torrent status -json ~/iso     one JSON object (docs/json.md)

Flags:
`

const stopUsage = `usage: torrent stop [DIR]

Stops the client running in DIR (default: this directory) as q in its
terminal UI would: it tells the tracker, saves its state and exits 0.
Waits until it has stopped.

  torrent stop ~/iso

`

// noClient is the error when no client runs in a directory.
func noClient(dir string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no torrent client is running in %s", dir)
	}
	return fmt.Errorf("no torrent client answers in %s: %v", dir, err)
}

func cmdStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("torrent status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object (docs/json.md), e.g. torrent status -json | jq .state")
	fs.Usage = func() {
		fmt.Fprint(stderr, statusUsage)
		printFlags(stderr, fs)
	}
	dir, path, err := controlArg(fs, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, u, err := reach(ctx, dir, path)
	if err != nil {
		return err
	}
	c.Close()
	s, err := statusOf(u, time.Now())
	if err != nil {
		return fmt.Errorf("the client in %s: %w", dir, err)
	}
	if *asJSON {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	return printStatus(os.Stdout, s)
}

func cmdStop(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("torrent stop", flag.ContinueOnError)
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for it to stop, e.g. -timeout 2m")
	fs.Usage = func() {
		fmt.Fprint(stderr, stopUsage+"Flags:\n")
		printFlags(stderr, fs)
	}
	dir, path, err := controlArg(fs, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, u, err := reach(ctx, dir, path)
	if err != nil {
		return err
	}
	defer c.Close()
	pid := int(c.pid.Load())
	if _, err := c.Quit(ctx, &hostpb.QuitRequest{}); err != nil {
		return fmt.Errorf("stop the client in %s: %w", dir, err)
	}
	// It has stopped when its process is gone (it told the tracker and
	// saved its state before), or, without its pid, its socket.
	for ctx.Err() == nil {
		if pid > 0 && processGone(pid) || pid <= 0 && fileGone(path) {
			fmt.Printf("stopped %s in %s\n", u.GetTorrent().GetName(), dir)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the client in %s did not stop within %s", dir, *timeout)
}

// processGone says whether pid has exited (a zombie has).
func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}

func fileGone(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// reach connects to the client of dir and reads its first update.
func reach(ctx context.Context, dir, path string) (*controlConn, *hostpb.Update, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, noClient(dir, err)
	}
	c, err := dialControl(path)
	if err != nil {
		return nil, nil, noClient(dir, err)
	}
	u, err := firstUpdate(ctx, c)
	if err != nil {
		c.Close()
		return nil, nil, noClient(dir, err)
	}
	return c, u, nil
}

// controlArg parses flags and the optional DIR, and names the running
// client's control socket there.
func controlArg(fs *flag.FlagSet, args []string) (dir, path string, err error) {
	if dir, err = dirArg(fs, args); err != nil {
		return "", "", err
	}
	path, err = controlPath(dir)
	return dir, path, err
}

// dirArg parses flags and the optional DIR.
func dirArg(fs *flag.FlagSet, args []string) (string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	switch fs.NArg() {
	case 0:
		return ".", nil
	case 1:
		return fs.Arg(0), nil
	}
	fs.Usage()
	return "", badInput("want at most one DIR, got %d arguments", fs.NArg())
}

// jsonStatus is `torrent status -json`.
type jsonStatus struct {
	jsonHead
	Torrent struct {
		Name        string `json:"name"`
		InfoHash    string `json:"info_hash"`
		Length      int64  `json:"length"`
		PieceLength int64  `json:"piece_length"`
		Pieces      int    `json:"pieces"`
	} `json:"torrent"`
	Dir        string           `json:"dir"`
	State      string           `json:"state"`
	Checked    int              `json:"checked"`
	PiecesDone int              `json:"pieces_done"`
	BytesDone  int64            `json:"bytes_done"`
	Downloaded int64            `json:"downloaded"`
	Uploaded   int64            `json:"uploaded"`
	DownRate   int64            `json:"down_rate"`
	UpRate     int64            `json:"up_rate"`
	KnownPeers int              `json:"known_peers"`
	ETA        *int64           `json:"eta"`
	Problem    string           `json:"problem"`
	Peers      []jsonStatusPeer `json:"peers"`
	Files      []jsonFileState  `json:"files"`   // jsonfiles.go
	Tracker    *jsonStatusTrk   `json:"tracker"` // null without one
	Lazy       *jsonLazy        `json:"lazy"`    // null but for a lazy run
}

// jsonLazy is a lazy run's reads through the mount, this session.
type jsonLazy struct {
	Read    int64 `json:"read"`    // bytes readers read
	Asked   int64 `json:"asked"`   // bytes of the pieces reads and their readahead asked for
	Fetched int64 `json:"fetched"` // bytes of pieces fetched and verified
}

// lazyState is the state a lazy run shows instead of an ETA.
func lazyState(l *jsonLazy) string {
	return fmt.Sprintf("lazy: %s fetched for reads (%s read, %s asked for with readahead)", human(l.Fetched), human(l.Read), human(l.Asked))
}

type jsonStatusPeer struct {
	Addr     string `json:"addr"`
	Client   string `json:"client"`
	DownRate int64  `json:"down_rate"`
	UpRate   int64  `json:"up_rate"`
	Pieces   int    `json:"pieces"`
	Flags    string `json:"flags"`
}

type jsonStatusTrk struct {
	URL          string  `json:"url"`
	OK           bool    `json:"ok"`
	Reason       string  `json:"reason"`
	Peers        int     `json:"peers"`
	NextAnnounce *string `json:"next_announce"`
}

// statusOf turns the client's first update into the status.
func statusOf(u *hostpb.Update, now time.Time) (*jsonStatus, error) {
	t := u.GetTorrent()
	if t == nil {
		return nil, errors.New("its first update has no torrent")
	}
	n := int(t.GetNumPieces())
	have, err := bitfield.FromBytes(u.GetHave(), n)
	if err != nil {
		return nil, err
	}
	s := &jsonStatus{jsonHead: jsonHead{V: jsonVersion, Type: "status", Time: now.UTC().Format("2006-01-02T15:04:05.000Z07:00")},
		Dir: t.GetDir(), Checked: int(u.GetChecking()), PiecesDone: have.Count(), Downloaded: int64(u.GetDownloaded()),
		Uploaded: int64(u.GetUploaded()), DownRate: int64(u.GetDownRate()), UpRate: int64(u.GetUpRate()),
		KnownPeers: int(u.GetKnownPeers()), Problem: u.GetStatus(), Peers: []jsonStatusPeer{}, Files: statusFiles(t, have)}
	s.Torrent.Name, s.Torrent.InfoHash, s.Torrent.Length = t.GetName(), t.GetInfoHash(), int64(t.GetTotalLength())
	s.Torrent.PieceLength, s.Torrent.Pieces = int64(t.GetPieceLength()), n
	s.BytesDone = int64(have.Count()) * s.Torrent.PieceLength
	if n > 0 && have.Has(n-1) {
		s.BytesDone -= int64(n)*s.Torrent.PieceLength - s.Torrent.Length
	}
	// Missing counts only the chosen files' pieces (-only, -skip).
	left := min(s.Torrent.Length-s.BytesDone, int64(u.GetMissing())*s.Torrent.PieceLength)
	s.State, s.ETA = progressState(u.GetCheckingDone(), int(u.GetMissing()), left, s.DownRate)
	if n == 0 && t.GetTotalLength() == 0 && !u.GetCheckingDone() {
		s.State = "metadata" // a magnet link's: problem says how far
	}
	if l := u.GetLazy(); l != nil {
		s.Lazy = &jsonLazy{Read: int64(l.Read), Asked: int64(l.Asked), Fetched: int64(l.Fetched)}
		if s.State == "downloading" || s.State == "stalled" {
			s.State, s.ETA = "lazy", nil // it fetches what is read, and ends never
		}
	}
	for _, p := range u.GetPeers() {
		s.Peers = append(s.Peers, jsonStatusPeer{Addr: p.Addr, Client: p.Client, DownRate: int64(p.DownRate), UpRate: int64(p.UpRate), Pieces: int(p.Pieces), Flags: p.Flags})
	}
	sort.Slice(s.Peers, func(i, j int) bool { return s.Peers[i].DownRate > s.Peers[j].DownRate })
	if tr := u.GetTracker(); tr != nil {
		s.Tracker = &jsonStatusTrk{URL: tr.Url, OK: tr.LastError == "", Reason: tr.LastError, Peers: int(tr.Peers)}
		if tr.NextAnnounceUnix != 0 {
			next := time.Unix(tr.NextAnnounceUnix, 0).UTC().Format(time.RFC3339)
			s.Tracker.NextAnnounce = &next
		}
	}
	return s, nil
}

func printStatus(w io.Writer, s *jsonStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	pct := 100.0
	if s.Torrent.Pieces > 0 {
		pct = 100 * float64(s.PiecesDone) / float64(s.Torrent.Pieces)
	} else if s.State == "metadata" {
		pct = 0
	}
	fmt.Fprintf(tw, "torrent\t%s (%s, %d pieces)\n", s.Torrent.Name, human(s.Torrent.Length), s.Torrent.Pieces)
	fmt.Fprintf(tw, "dir\t%s\n", s.Dir)
	state := s.State
	if s.State == "metadata" {
		state, s.Problem = s.Problem, ""
	} else if s.State == "checking" {
		state = fmt.Sprintf("checking data on disk, %d/%d pieces", s.Checked, s.Torrent.Pieces)
	} else if s.ETA != nil && s.State == "downloading" {
		state += ", ETA " + (time.Duration(*s.ETA) * time.Second).String()
	} else if s.State == "lazy" {
		state = lazyState(s.Lazy)
	}
	fmt.Fprintf(tw, "progress\t%.1f%% (%d/%d pieces), %s\n", pct, s.PiecesDone, s.Torrent.Pieces, state)
	if s.Problem != "" {
		fmt.Fprintf(tw, "problem\t%s\n", s.Problem)
	}
	fmt.Fprintf(tw, "rates\tdown %s/s, up %s/s\n", human(s.DownRate), human(s.UpRate))
	fmt.Fprintf(tw, "session\tdownloaded %s, uploaded %s\n", human(s.Downloaded), human(s.Uploaded))
	if t := s.Tracker; t != nil {
		line := t.URL
		if t.OK {
			line += fmt.Sprintf(" · %d peers", t.Peers)
		} else if t.Reason != "" {
			line += " · " + t.Reason
		}
		fmt.Fprintf(tw, "tracker\t%s\n", line)
	}
	fmt.Fprintf(tw, "peers\t%d connected, %d known\n", len(s.Peers), s.KnownPeers)
	for _, p := range s.Peers {
		line := fmt.Sprintf("\t  %s\t%s\tdown %s/s\tup %s/s\t%d pieces", p.Addr, p.Client, human(p.DownRate), human(p.UpRate), p.Pieces)
		if f := strings.TrimSpace(p.Flags); f != "" {
			line += "\t" + f
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}
