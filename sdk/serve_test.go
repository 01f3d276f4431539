package sdk

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/proto/fspb"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/proto/uipb"
)

// hostSide is what the host gets from go-plugin for a kind: the plugin's
// connection and the broker the host serves its API through.
type hostSide struct {
	conn   *grpc.ClientConn
	broker *plugin.GRPCBroker
}

// testPlugin is serverPlugin with a client side, for tests that play the
// host over go-plugin's in-process connection.
type testPlugin struct{ serverPlugin }

func (testPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return hostSide{c, b}, nil
}

// connect serves register as a plugin of kind over go-plugin's real gRPC
// plumbing, in process, and returns the host's side.
func connect(t *testing.T, kind string, register func(*plugin.GRPCBroker, *grpc.Server)) hostSide {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{kind: testPlugin{serverPlugin{register: register}}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(kind)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(hostSide)
}

// recorder is a picker that records the events it is handed and answers
// each want with the missing pieces the peer has, lowest first.
type recorder struct {
	mu     sync.Mutex
	events []Event
	fail   bool
}

func (r *recorder) HandleEvents(_ context.Context, _ *Swarm, evs []Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) Pick(_ context.Context, s *Swarm, want []Want) (Picks, error) {
	if r.fail {
		return nil, errors.New("picker broke")
	}
	out := Picks{}
	for _, w := range want {
		for i := range s.Torrent().NumPieces {
			if len(out[w.Peer]) < w.N && !s.Have(i) && s.PeerHas(w.Peer, i) {
				out[w.Peer] = append(out[w.Peer], i)
			}
		}
	}
	return out, nil
}

func startPickerSession(t *testing.T, p Picker) pickerpb.Picker_SessionClient {
	t.Helper()
	hs := connect(t, PickerKind, func(_ *plugin.GRPCBroker, s *grpc.Server) {
		pickerpb.RegisterPickerServer(s, &pickerServer{impl: p, name: "rec", log: hclog.NewNullLogger()})
	})
	c := pickerpb.NewPickerClient(hs.conn)
	caps, err := c.Capabilities(context.Background(), &pickerpb.CapabilitiesRequest{HostProtocol: PickerProtocol})
	if err != nil || caps.Name != "rec" || caps.Protocol != PickerProtocol || !slices.Contains(caps.Features, "urgent") {
		t.Fatalf("capabilities %v, %v", caps, err)
	}
	st, err := c.Session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var testTorrent = &pickerpb.Torrent{NumPieces: 10, PieceLength: 1 << 14, TotalLength: 10 << 14}

// noneYet is the snapshot of testTorrent with nothing downloaded and no peers.
func noneYet() *pickerpb.Snapshot {
	return &pickerpb.Snapshot{Torrent: testTorrent, Have: bits(10).Bytes()}
}

// Over the real plugin plumbing: a batch's events reach the picker as the
// SDK's types, in order, and its picks come back under the batch's seq.
func TestPickerServerSession(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	st := startPickerSession(t, rec)
	batch := &pickerpb.Batch{
		Seq:      7,
		Snapshot: &pickerpb.Snapshot{Torrent: testTorrent, Have: bits(10, 0).Bytes(), Peers: []*pickerpb.PeerBitfield{{Peer: 1, Have: bits(10, 0, 1, 2).Bytes()}}},
		Events: []*pickerpb.Event{
			{Kind: &pickerpb.Event_PeerJoined{PeerJoined: &pickerpb.PeerBitfield{Peer: 2, Have: bits(10, 5, 6).Bytes()}}},
			{Kind: &pickerpb.Event_PeerHave{PeerHave: &pickerpb.PeerHave{Peer: 1, Piece: 3}}},
			{Kind: &pickerpb.Event_PieceStarted{PieceStarted: 1}},
			{Kind: &pickerpb.Event_PieceDone{PieceDone: 1}},
			{Kind: &pickerpb.Event_PieceFailed{PieceFailed: 1}},
			{Kind: &pickerpb.Event_Urgent{Urgent: &pickerpb.Urgent{Pieces: []uint32{6}}}},
			{Kind: &pickerpb.Event_PeerLeft{PeerLeft: 2}},
		},
		Want: []*pickerpb.Want{{Peer: 1, Count: 2}},
	}
	if err := st.Send(batch); err != nil {
		t.Fatal(err)
	}
	picks, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if picks.Seq != 7 || len(picks.Peers) != 1 || picks.Peers[0].Peer != 1 || !slices.Equal(picks.Peers[0].Pieces, []uint32{1, 2}) {
		t.Fatalf("picks %v, want seq 7, peer 1: [1 2]", picks)
	}
	want := []Event{
		PeerJoined{Peer: 2, Have: bits(10, 5, 6)}, PeerHave{Peer: 1, Piece: 3},
		PieceStarted{Piece: 1}, PieceDone{Piece: 1}, PieceFailed{Piece: 1}, UrgentSet{Pieces: []int{6}}, PeerLeft{Peer: 2},
	}
	rec.mu.Lock()
	got := rec.events
	rec.mu.Unlock()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("events:\n got %+v\nwant %+v", got, want)
	}
	// A batch with no wants gets no answer; the next one's does.
	st.Send(&pickerpb.Batch{Seq: 8, Events: []*pickerpb.Event{{Kind: &pickerpb.Event_PieceDone{PieceDone: 2}}}})
	st.Send(&pickerpb.Batch{Seq: 9, Want: []*pickerpb.Want{{Peer: 1, Count: 5}}})
	if picks, err := st.Recv(); err != nil || picks.Seq != 9 || !slices.Equal(picks.Peers[0].Pieces, []uint32{1, 3}) {
		t.Fatalf("after piece 2 is done: %v, %v; want seq 9, [1 3]", picks, err)
	}
}

// What the host must not send ends the session with an error that says
// what was wrong; a picker that fails answers nothing picked, and the
// session goes on.
func TestPickerServerRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		batch *pickerpb.Batch
		want  string
	}{
		"no snapshot first": {&pickerpb.Batch{Seq: 1}, "must carry a snapshot"},
		"bad torrent":       {&pickerpb.Batch{Seq: 1, Snapshot: &pickerpb.Snapshot{Torrent: &pickerpb.Torrent{NumPieces: 4}}}, "bad torrent"},
		"short have":        {&pickerpb.Batch{Seq: 1, Snapshot: &pickerpb.Snapshot{Torrent: testTorrent, Have: []byte{1}}}, "snapshot have"},
		"urgent out of range": {&pickerpb.Batch{Seq: 1, Snapshot: &pickerpb.Snapshot{Torrent: testTorrent, Have: bits(10).Bytes(), Urgent: []uint32{10}}},
			"snapshot urgent"},
		"event out of range": {&pickerpb.Batch{Seq: 1, Snapshot: noneYet(),
			Events: []*pickerpb.Event{{Kind: &pickerpb.Event_PieceDone{PieceDone: 99}}}}, "batch 1"},
		"joined with a bad bitfield": {&pickerpb.Batch{Seq: 2, Snapshot: noneYet(),
			Events: []*pickerpb.Event{{Kind: &pickerpb.Event_PeerJoined{PeerJoined: &pickerpb.PeerBitfield{Peer: 3, Have: []byte{1, 2, 3}}}}}}, "peer 3 joined"},
		"urgent event out of range": {&pickerpb.Batch{Seq: 2, Snapshot: noneYet(),
			Events: []*pickerpb.Event{{Kind: &pickerpb.Event_Urgent{Urgent: &pickerpb.Urgent{Pieces: []uint32{1, 10}}}}}}, "urgent"},
		"unknown event": {&pickerpb.Batch{Seq: 2, Snapshot: noneYet(),
			Events: []*pickerpb.Event{{}}}, "unknown event"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := startPickerSession(t, &recorder{})
			st.Send(tc.batch)
			_, err := st.Recv()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("picker fails", func(t *testing.T) {
		t.Parallel()
		st := startPickerSession(t, &recorder{fail: true})
		st.Send(&pickerpb.Batch{Seq: 3, Snapshot: noneYet(), Want: []*pickerpb.Want{{Peer: 1, Count: 1}}})
		if picks, err := st.Recv(); err != nil || picks.Seq != 3 || len(picks.Peers) != 0 {
			t.Fatalf("a failed pick: %v, %v; want seq 3 with no picks", picks, err)
		}
	})
}

// fakeHost is the host API with scripted answers.
type fakeHost struct {
	hostpb.UnimplementedHostServer
	updates  []*hostpb.Update
	watchErr error // ends Watch after the updates
	quit     chan struct{}

	mu       sync.Mutex
	watchReq *hostpb.WatchRequest // the last Watch call's
}

func (h *fakeHost) Watch(r *hostpb.WatchRequest, s hostpb.Host_WatchServer) error {
	h.mu.Lock()
	h.watchReq = r
	h.mu.Unlock()
	for _, u := range h.updates {
		if err := s.Send(u); err != nil {
			return err
		}
	}
	return h.watchErr
}

func (h *fakeHost) Quit(context.Context, *hostpb.QuitRequest) (*hostpb.QuitResponse, error) {
	close(h.quit)
	return &hostpb.QuitResponse{}, nil
}

func (h *fakeHost) Torrents(context.Context, *hostpb.TorrentsRequest) (*hostpb.TorrentsResponse, error) {
	return &hostpb.TorrentsResponse{Torrents: []*hostpb.TorrentInfo{hostTorrent}}, nil
}

// Read answers with bytes equal to their offset (mod 256); offset 1000 is
// data that will not come, and offset 2000 a read that never ends.
func (h *fakeHost) Read(ctx context.Context, r *hostpb.ReadRequest) (*hostpb.ReadResponse, error) {
	switch r.Offset {
	case 1000:
		return nil, status.Error(codes.Unavailable, "stopping")
	case 2000:
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	b := make([]byte, r.Length)
	for i := range b {
		b[i] = byte(r.Offset + uint64(i))
	}
	return &hostpb.ReadResponse{Data: b}, nil
}

func (h *fakeHost) Complete(_ context.Context, r *hostpb.CompleteRequest) (*hostpb.CompleteResponse, error) {
	return &hostpb.CompleteResponse{Complete: r.Offset+r.Length <= 4096}, nil
}

var hostTorrent = &hostpb.TorrentInfo{Name: "t", InfoHash: "ab", TotalLength: 5000, PieceLength: 4096, NumPieces: 2,
	Files: []*hostpb.FileInfo{{Path: "t/a", Length: 5000}}, Dir: "/d", Mountpoint: "/m", CreationDate: 1700000000}

// serveHost serves h through the broker, as the host does for a plugin,
// and returns the broker id to pass.
func serveHost(hs hostSide, h hostpb.HostServer) uint32 {
	id := hs.broker.NextId()
	go hs.broker.AcceptAndServe(id, func(o []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(o...)
		hostpb.RegisterHostServer(s, h)
		return s
	})
	return id
}

// watcher is a UI that collects the updates until the host ends the
// stream, then quits the client.
type watcher struct {
	got []Update
	err error
}

func (w *watcher) Run(ctx context.Context, h Host) error {
	w.err = h.Watch(ctx, func(u Update) { w.got = append(w.got, u) })
	return h.Quit(ctx)
}

// A UI plugin served by the SDK reaches the host API through the broker:
// the updates arrive as the SDK's types (the torrent in the first only),
// and Quit reaches the host.
func TestUIServerRun(t *testing.T) {
	t.Parallel()
	w := &watcher{}
	hs := connect(t, UIKind, func(b *plugin.GRPCBroker, s *grpc.Server) {
		uipb.RegisterUIServer(s, &uiServer{impl: w, broker: b})
	})
	host := &fakeHost{quit: make(chan struct{}), updates: []*hostpb.Update{
		{Torrent: hostTorrent, Have: bits(2, 1).Bytes(), Missing: 1, Downloading: []uint32{0}, DownRate: 10, Picker: "random",
			Peers:   []*hostpb.Peer{{Addr: "1.2.3.4:5", Client: "lt", DownRate: 3, UpRate: 4, Pieces: 1, Flags: "i", Source: "pex"}},
			Tracker: &hostpb.Tracker{Url: "http://t", LastAnnounceUnix: 1700000000, Peers: 2, Seeders: 1, Leechers: 1},
			Log:     []*hostpb.LogLine{{TimeUnixMs: 1700000000123, Level: "INFO", Text: "hi"}},
			Lazy:    &hostpb.Lazy{Read: 7, Asked: 9, Fetched: 8}},
		{Have: bits(2, 0, 1).Bytes(), Complete: true, Status: "done", CheckingDone: true},
	}}
	id := serveHost(hs, host)
	if _, err := uipb.NewUIClient(hs.conn).Run(context.Background(), &uipb.RunRequest{HostBrokerId: id}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-host.quit:
	default:
		t.Fatal("Quit never reached the host")
	}
	if w.err != nil || len(w.got) != 2 {
		t.Fatalf("watch: %v, %d updates", w.err, len(w.got))
	}
	first, second := w.got[0], w.got[1]
	wantInfo := &TorrentInfo{Name: "t", InfoHash: "ab", TotalLength: 5000, PieceLength: 4096, NumPieces: 2,
		Files: []FileInfo{{Path: "t/a", Length: 5000}}, Dir: "/d", Mountpoint: "/m", Created: 1700000000}
	if !reflect.DeepEqual(wantInfo, first.Torrent) {
		t.Fatalf("torrent %+v, want %+v", first.Torrent, wantInfo)
	}
	if want := (&LazyInfo{Read: 7, Asked: 9, Fetched: 8}); !reflect.DeepEqual(want, first.Lazy) {
		t.Fatalf("lazy %+v, want %+v", first.Lazy, want)
	}
	if second.Torrent != nil || second.Lazy != nil || !second.Complete || second.Status != "done" || !second.Have.Full() || !second.CheckingDone {
		t.Fatalf("second update %+v", second)
	}
	if first.Have.Has(0) || !first.Have.Has(1) || first.Missing != 1 || !slices.Equal(first.Downloading, []int{0}) || first.Picker != "random" {
		t.Fatalf("first update %+v", first)
	}
	if want := []PeerInfo{{Addr: "1.2.3.4:5", Client: "lt", DownRate: 3, UpRate: 4, Pieces: 1, Flags: "i", Source: "pex"}}; !reflect.DeepEqual(want, first.Peers) {
		t.Fatalf("peers %+v, want %+v", first.Peers, want)
	}
	if tr := first.Tracker; tr == nil || tr.URL != "http://t" || tr.LastAnnounce.Unix() != 1700000000 || !tr.NextAnnounce.IsZero() || tr.Seeders != 1 {
		t.Fatalf("tracker %+v", tr)
	}
	if len(first.Log) != 1 || first.Log[0].Text != "hi" || first.Log[0].Time.UnixMilli() != 1700000000123 {
		t.Fatalf("log %+v", first.Log)
	}
}

// A host whose first update lacks the torrent, or sends a bitfield of the
// wrong size, is an error for Watch, not a crash.
func TestUIWatchBadUpdates(t *testing.T) {
	t.Parallel()
	for name, updates := range map[string][]*hostpb.Update{
		"no torrent first": {{Missing: 1}},
		"bad bitfield":     {{Torrent: hostTorrent, Have: []byte{1, 2, 3}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := &watcher{}
			hs := connect(t, UIKind, func(b *plugin.GRPCBroker, s *grpc.Server) {
				uipb.RegisterUIServer(s, &uiServer{impl: w, broker: b})
			})
			id := serveHost(hs, &fakeHost{quit: make(chan struct{}), updates: updates})
			uipb.NewUIClient(hs.conn).Run(context.Background(), &uipb.RunRequest{HostBrokerId: id})
			if w.err == nil || !strings.Contains(w.err.Error(), "host API") {
				t.Fatalf("watch error %v, want one naming the host API", w.err)
			}
		})
	}
}

// mounter is a filesystem plugin that, on Mount, exercises the Files it is
// given and keeps the results.
type mounter struct {
	mnt        string
	torrents   []TorrentInfo
	data       []byte
	errs       map[string]error
	complete   [2]bool
	unmounted  bool
	unmountErr error // what Unmount returns
}

func (m *mounter) Mount(ctx context.Context, f Files, mountpoint string, _ bool) error {
	m.mnt = mountpoint
	m.errs = map[string]error{}
	m.torrents, m.errs["torrents"] = f.Torrents(ctx)
	m.data = make([]byte, 8)
	_, m.errs["read"] = f.ReadAt(ctx, 0, m.data, 300, 0)
	_, m.errs["unavailable"] = f.ReadAt(ctx, 0, make([]byte, 8), 1000, 0)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, m.errs["cancelled"] = f.ReadAt(cctx, 0, make([]byte, 8), 2000, 0)
	m.complete[0], _ = f.Complete(ctx, 0, 0, 100)
	m.complete[1], _ = f.Complete(ctx, 0, 4000, 200)
	if mountpoint == "/refuse" {
		return errors.New("cannot mount there")
	}
	return nil
}

func (m *mounter) Unmount() error {
	m.unmounted = true
	return m.unmountErr
}

// A filesystem plugin served by the SDK reads through the host API: bytes
// as the host sent them, ErrUnavailable for data that will not come, the
// context's error for a cancelled read; Unmount reaches the plugin; a
// refused mount is the plugin's error.
func TestFSServerMount(t *testing.T) {
	t.Parallel()
	m := &mounter{}
	hs := connect(t, FSKind, func(b *plugin.GRPCBroker, s *grpc.Server) {
		fspb.RegisterFSServer(s, &fsServer{impl: m, broker: b})
	})
	c := fspb.NewFSClient(hs.conn)
	id := serveHost(hs, &fakeHost{})
	if _, err := c.Mount(context.Background(), &fspb.MountRequest{HostBrokerId: id, Mountpoint: "/mnt"}); err != nil {
		t.Fatal(err)
	}
	if m.mnt != "/mnt" || len(m.torrents) != 1 || m.torrents[0].Name != "t" || m.errs["torrents"] != nil {
		t.Fatalf("mount %q, torrents %+v, %v", m.mnt, m.torrents, m.errs["torrents"])
	}
	if m.errs["read"] != nil || !slices.Equal(m.data, []byte{44, 45, 46, 47, 48, 49, 50, 51}) {
		t.Fatalf("read: %v, %v", m.data, m.errs["read"])
	}
	if !errors.Is(m.errs["unavailable"], ErrUnavailable) {
		t.Fatalf("unavailable read: %v, want ErrUnavailable", m.errs["unavailable"])
	}
	if !errors.Is(m.errs["cancelled"], context.Canceled) {
		t.Fatalf("cancelled read: %v, want context.Canceled", m.errs["cancelled"])
	}
	if m.complete != [2]bool{true, false} {
		t.Fatalf("complete %v, want [true false]", m.complete)
	}
	if _, err := c.Unmount(context.Background(), &fspb.UnmountRequest{}); err != nil || !m.unmounted {
		t.Fatalf("unmount: %v, reached the plugin: %v", err, m.unmounted)
	}
	id = serveHost(hs, &fakeHost{})
	if _, err := c.Mount(context.Background(), &fspb.MountRequest{HostBrokerId: id, Mountpoint: "/refuse"}); err == nil || !strings.Contains(err.Error(), "cannot mount there") {
		t.Fatalf("refused mount: %v", err)
	}
}
