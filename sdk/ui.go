package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/proto/uipb"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// UI plugin protocol.
const (
	UIProtocol = 1
	UIKind     = "ui"
)

// TorrentInfo is the fixed description of the torrent.
type TorrentInfo struct {
	Name        string
	InfoHash    string
	TotalLength int64
	PieceLength int64
	NumPieces   int
	Files       []FileInfo
	Dir         string
	Mountpoint  string
	Created     int64 // unix seconds, 0 if unknown
}

// FileInfo is one file of the torrent.
type FileInfo struct {
	Path    string
	Length  int64
	Offset  int64
	Skipped bool // not chosen (-only, -skip, SetFile): not fetched unless read
	// Priority is PriorityLow, PriorityNormal or PriorityHigh.
	Priority int
}

// File priorities (Host.SetFile): a high file's pieces are requested
// before others, a low file's only when a peer has nothing else we need.
const (
	PriorityLow    = -1
	PriorityNormal = 0
	PriorityHigh   = 1
)

// PeerInfo is one connected peer.
type PeerInfo struct {
	Addr, Client     string
	DownRate, UpRate int64
	Pieces           int
	// Flags: "c" they choke us, "i" they are interested, "E" encrypted,
	// "I" it connected to us, "S" snubbed (our requests unanswered 20 s).
	Flags    string
	Requests int // our block requests they have not answered
	// Source is where its address came from: "tracker", "dht", "pex",
	// "lsd", "magnet", "user" (-peer), "incoming", or several joined by "+".
	Source string
}

// TrackerInfo is a tracker's state. Only the current tracker (the one last
// answered or tried) has one; the others are fallbacks, URL and Tier only.
type TrackerInfo struct {
	URL, LastError             string
	LastAnnounce, NextAnnounce time.Time
	Peers, Seeders, Leechers   int
	Tier                       int
	Current                    bool
}

// LogLine is one host log line.
type LogLine struct {
	Time        time.Time
	Level, Text string
}

// Update is one step of the host's state; the first carries Torrent.
type Update struct {
	Torrent              *TorrentInfo
	Have                 bitfield.Bitfield
	Downloading          []int
	Missing              int
	Downloaded, Uploaded int64
	DownRate, UpRate     int64
	Peers                []PeerInfo
	KnownPeers           int
	Tracker              *TrackerInfo  // the current tracker
	Trackers             []TrackerInfo // every tracker, in tier order
	Log                  []LogLine
	Complete             bool
	Picker               string
	Checking             int
	CheckingDone         bool
	// Status is what keeps the download from going on ("disk full at
	// /data: retrying"); empty when nothing does.
	Status string
	// Lazy is set for a lazy run (-lazy), which fetches only what is read
	// from the mount: Missing pieces are then no download in progress.
	Lazy *LazyInfo
}

// LazyInfo is a lazy run's reads through the mount, this session.
type LazyInfo struct {
	Read    int64 // bytes readers read
	Asked   int64 // bytes of the pieces the reads and their readahead asked for, not on disk then
	Fetched int64 // bytes of pieces fetched and verified
}

// Host is the client as a UI plugin sees it.
type Host interface {
	// Watch calls f with each update until ctx ends or the host goes away.
	Watch(ctx context.Context, f func(Update), opts ...WatchOption) error
	// Quit stops the whole client cleanly.
	Quit(ctx context.Context) error
	// SetFile chooses (skip false) or skips file index (in
	// TorrentInfo.Files) and sets its priority; the next update carries
	// the torrent again with the change.
	SetFile(ctx context.Context, index int, skip bool, priority int) error
}

// UI is a user interface plugin: Run owns the user's terminal (open
// /dev/tty: a plugin's stdout is a pipe) until the user leaves or ctx ends.
type UI interface {
	Run(ctx context.Context, host Host) error
}

// ServeUI serves ui to the host; it is a UI plugin's whole main.
func ServeUI(ui UI, opts ...ServeOption) {
	cfg := newServeConfig(opts)
	// Under the host a UI ends when the host does, or on SIGTERM or
	// SIGHUP, but only once it has put the terminal back (watchUILife).
	var life *uiLife
	cfg.hosted = func(hclog.Logger) { life = watchUILife() }
	serve(UIKind, UIProtocol, func(b *plugin.GRPCBroker, s *grpc.Server) {
		uipb.RegisterUIServer(s, &uiServer{impl: ui, life: life, broker: b})
	}, cfg)
}

var _ uipb.UIServer = (*uiServer)(nil)

type uiServer struct {
	uipb.UnimplementedUIServer
	impl   UI
	life   *uiLife // nil in debug mode
	broker *plugin.GRPCBroker
}

func (s *uiServer) Run(ctx context.Context, req *uipb.RunRequest) (*uipb.RunResponse, error) {
	conn, err := s.broker.Dial(req.GetHostBrokerId())
	if err != nil {
		return nil, fmt.Errorf("dial the host API: %w", err)
	}
	defer conn.Close()
	host := &hostClient{c: hostpb.NewHostClient(conn)}
	if err := s.life.run(ctx, func(ctx context.Context) error { return s.impl.Run(ctx, host) }); err != nil {
		return nil, err
	}
	return &uipb.RunResponse{}, nil
}

// hostClient is Host over the host API's gRPC stream.
type hostClient struct {
	c     hostpb.HostClient
	shape *TorrentInfo
}

var _ Host = (*hostClient)(nil)

func (h *hostClient) Quit(ctx context.Context) error {
	_, err := h.c.Quit(ctx, &hostpb.QuitRequest{})
	return err
}

func (h *hostClient) SetFile(ctx context.Context, index int, skip bool, priority int) error {
	if index < 0 {
		return fmt.Errorf("no file %d", index)
	}
	_, err := h.c.SetFile(ctx, &hostpb.SetFileRequest{Index: uint32(index), Skip: skip, Priority: int32(priority)})
	return err
}

// WatchOption tunes Watch.
type WatchOption func(*hostpb.WatchRequest)

// MaxRate asks for at most n updates a second (the host sends at most 20):
// fewer wake-ups for a UI that redraws on each.
func MaxRate(n int) WatchOption {
	return func(r *hostpb.WatchRequest) { r.MaxRate = uint32(max(0, n)) }
}

func (h *hostClient) Watch(ctx context.Context, f func(Update), opts ...WatchOption) error {
	req := &hostpb.WatchRequest{}
	for _, o := range opts {
		o(req)
	}
	st, err := h.c.Watch(ctx, req)
	if err != nil {
		return err
	}
	for {
		u, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		up, err := h.update(u)
		if err != nil {
			return err
		}
		f(up)
	}
}

func (h *hostClient) update(u *hostpb.Update) (Update, error) {
	if t := u.GetTorrent(); t != nil {
		h.shape = torrentFromProto(t)
	}
	if h.shape == nil {
		return Update{}, errors.New("host API: the first update has no torrent")
	}
	have, err := bitfield.FromBytes(u.GetHave(), h.shape.NumPieces)
	if err != nil {
		return Update{}, fmt.Errorf("host API: %w", err)
	}
	out := Update{
		Have: have, Missing: int(u.GetMissing()), Downloaded: int64(u.GetDownloaded()), Uploaded: int64(u.GetUploaded()),
		DownRate: int64(u.GetDownRate()), UpRate: int64(u.GetUpRate()), KnownPeers: int(u.GetKnownPeers()),
		Complete: u.GetComplete(), Picker: u.GetPicker(), Checking: int(u.GetChecking()), CheckingDone: u.GetCheckingDone(),
		Status: u.GetStatus(),
	}
	if u.GetTorrent() != nil {
		out.Torrent = h.shape
	}
	if l := u.GetLazy(); l != nil {
		out.Lazy = &LazyInfo{Read: int64(l.Read), Asked: int64(l.Asked), Fetched: int64(l.Fetched)}
	}
	for _, d := range u.GetDownloading() {
		out.Downloading = append(out.Downloading, int(d))
	}
	for _, p := range u.GetPeers() {
		out.Peers = append(out.Peers, PeerInfo{Addr: p.Addr, Client: p.Client, DownRate: int64(p.DownRate), UpRate: int64(p.UpRate), Pieces: int(p.Pieces), Flags: p.Flags, Requests: int(p.Requests), Source: p.Source})
	}
	if t := u.GetTracker(); t != nil {
		tr := trackerFromProto(t)
		out.Tracker = &tr
	}
	for _, t := range u.GetTrackers() {
		out.Trackers = append(out.Trackers, trackerFromProto(t))
	}
	for _, l := range u.GetLog() {
		out.Log = append(out.Log, LogLine{Time: time.UnixMilli(l.TimeUnixMs), Level: l.Level, Text: l.Text})
	}
	return out, nil
}

func trackerFromProto(t *hostpb.Tracker) TrackerInfo {
	return TrackerInfo{URL: t.Url, LastError: t.LastError, LastAnnounce: fromUnix(t.LastAnnounceUnix), NextAnnounce: fromUnix(t.NextAnnounceUnix),
		Peers: int(t.Peers), Seeders: int(t.Seeders), Leechers: int(t.Leechers), Tier: int(t.Tier), Current: t.Current}
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

func torrentFromProto(t *hostpb.TorrentInfo) *TorrentInfo {
	out := &TorrentInfo{Name: t.Name, InfoHash: t.InfoHash, TotalLength: int64(t.TotalLength), PieceLength: int64(t.PieceLength),
		NumPieces: int(t.NumPieces), Dir: t.Dir, Mountpoint: t.Mountpoint, Created: t.CreationDate}
	for _, f := range t.Files {
		out.Files = append(out.Files, FileInfo{Path: f.Path, Length: int64(f.Length), Offset: int64(f.Offset), Skipped: f.Skipped, Priority: int(f.Priority)})
	}
	return out
}
