package hostapi

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/tracker"
	"github.com/torrent-dev/torrent/proto/hostpb"
)

// maxRate bounds updates per second to each watcher.
const maxRate = 20

// Server is the host API over one session.
type Server struct {
	hostpb.UnimplementedHostServer
	s          *session.Session // nil for a directory mount: no Watch then
	lib        Library
	logs       *LogRing
	quit       func()
	mountpoint atomic.Pointer[string] // set when torfs mounted the files
	ended      chan struct{}          // closed by EndWatches
	endOnce    sync.Once
}

var _ hostpb.HostServer = (*Server)(nil)

// EndWatches ends every Watch stream, now and later: the client is
// stopping. A UI sees its stream end and leaves the terminal as it found
// it before the host prints again.
func (srv *Server) EndWatches() { srv.endOnce.Do(func() { close(srv.ended) }) }

// SetMountpoint tells plugins where torfs mounted the files.
func (srv *Server) SetMountpoint(dir string) { srv.mountpoint.Store(&dir) }

func (srv *Server) mounted() string {
	if p := srv.mountpoint.Load(); p != nil {
		return *p
	}
	return ""
}

// New serves a running session; quit is called when a plugin asks the
// client to stop.
func New(s *session.Session, logs *LogRing, quit func()) *Server {
	return &Server{s: s, lib: sessionLibrary{s}, logs: logs, quit: quit, ended: make(chan struct{})}
}

// NewLibrary serves only Torrents and Read, from lib.
func NewLibrary(lib Library, quit func()) *Server {
	return &Server{lib: lib, quit: quit, ended: make(chan struct{})}
}

// Quit stops the client.
func (srv *Server) Quit(context.Context, *hostpb.QuitRequest) (*hostpb.QuitResponse, error) {
	srv.quit()
	return &hostpb.QuitResponse{}, nil
}

// Watch sends the whole picture, then fresh state at most maxRate times a
// second. A slow reader simply gets fewer updates: each is built when the
// previous one has been sent, so none goes stale in a queue.
func (srv *Server) Watch(req *hostpb.WatchRequest, stream hostpb.Host_WatchServer) error {
	if srv.s == nil {
		return status.Error(codes.Unimplemented, "no running torrent to watch")
	}
	rate := maxRate
	if r := int(req.GetMaxRate()); r > 0 && r < rate {
		rate = r
	}
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	var seq int64
	first, known, mount, sel := true, false, "", srv.s.Sel()
	for {
		u := srv.update(&seq)
		// The torrent goes with the first update, and again once a
		// magnet link's metadata makes it known, torfs mounts it or the
		// file selection changes (SetFile).
		if first || !known && srv.s.Meta() != nil || mount != srv.mounted() || sel != srv.s.Sel() {
			known, mount, sel = srv.s.Meta() != nil, srv.mounted(), srv.s.Sel()
			u.Torrent = srv.info()
			first = false
		}
		if err := stream.Send(u); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-srv.ended:
			return nil
		case <-t.C:
		}
	}
}

func (srv *Server) info() *hostpb.TorrentInfo {
	var t *hostpb.TorrentInfo
	if m := srv.s.Meta(); m != nil {
		t = sessionInfo(srv.s)
	} else {
		// Before a magnet link's metadata: the name it gives, no pieces.
		t = &hostpb.TorrentInfo{Name: srv.s.Name(), InfoHash: fmt.Sprintf("%x", srv.s.InfoHash()), Dir: srv.s.Dir()}
	}
	t.Mountpoint = srv.mounted()
	return t
}

// peerInfo is a peer as the host API shows it.
func peerInfo(p swarm.PeerStats) *hostpb.Peer {
	flags := ""
	for _, f := range []struct {
		on bool
		c  string
	}{{p.Choked, "c"}, {p.Interested, "i"}, {p.Encrypted, "E"}, {p.Incoming, "I"}, {p.Snubbed, "S"}} {
		if f.on {
			flags += f.c
		}
	}
	return &hostpb.Peer{Addr: p.Addr, Client: p.Client, DownRate: uint64(p.DownRate), UpRate: uint64(p.UpRate),
		Pieces: uint32(p.Pieces), Flags: flags, Requests: uint32(p.Inflight), Source: p.Source.String()}
}

func (srv *Server) update(seq *int64) *hostpb.Update {
	st := srv.s.Stats()
	have := st.Have.Bytes()
	if st.Have.Len() == 0 {
		have = make([]byte, (st.NumPieces+7)/8)
	}
	u := &hostpb.Update{
		Have: have, Missing: uint32(st.Missing), Downloaded: uint64(st.Downloaded), Uploaded: uint64(st.Uploaded),
		DownRate: uint64(st.DownRate), UpRate: uint64(st.UpRate), KnownPeers: uint32(st.Known), Complete: st.Missing == 0,
		Status: st.Status,
	}
	if l, ok := srv.s.LazyStats(); ok {
		u.Lazy = &hostpb.Lazy{Read: uint64(l.Read), Asked: uint64(l.Asked), Fetched: uint64(st.Verified)}
	}
	if ms, ok := srv.s.MetadataStatus(); ok {
		u.Status = ms.String()
		u.KnownPeers = uint32(ms.Known)
	}
	n, done := srv.s.Checking()
	u.Checking, u.CheckingDone = uint32(n), done
	for _, d := range st.Downloading {
		u.Downloading = append(u.Downloading, uint32(d))
	}
	for _, p := range st.Peers {
		u.Peers = append(u.Peers, peerInfo(p))
	}
	if tr, ok := srv.s.Tracker(); ok {
		u.Tracker = trackerStatus(tr)
	}
	for _, tr := range srv.s.Trackers() {
		u.Trackers = append(u.Trackers, trackerStatus(tr))
	}
	if p, ok := srv.s.Picker(); ok {
		u.Picker = "built-in"
		if p.Active {
			u.Picker = p.Plugin
		}
	}
	var lines []Line
	lines, *seq = srv.logs.Since(*seq)
	for _, l := range lines {
		u.Log = append(u.Log, &hostpb.LogLine{TimeUnixMs: l.Time.UnixMilli(), Level: l.Level, Text: l.Text})
	}
	return u
}

func trackerStatus(tr tracker.Status) *hostpb.Tracker {
	return &hostpb.Tracker{Url: tr.URL, Tier: uint32(tr.Tier), Current: tr.Current, LastError: tr.LastError,
		LastAnnounceUnix: unixOrZero(tr.LastAnnounce), NextAnnounceUnix: unixOrZero(tr.NextAnnounce),
		Peers: uint32(tr.Peers), Seeders: uint32(tr.Seeders), Leechers: uint32(tr.Leechers)}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
