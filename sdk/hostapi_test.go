package sdk

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/proto/fspb"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/proto/uipb"
)

// watchResult is what a rateWatcher's Watch saw.
type watchResult struct {
	got []Update
	err error
}

// rateWatcher is a UI that watches with opts and hands over what it saw.
type rateWatcher struct {
	opts []WatchOption
	done chan watchResult
}

func (w *rateWatcher) Run(ctx context.Context, h Host) error {
	var r watchResult
	r.err = h.Watch(ctx, func(u Update) { r.got = append(r.got, u) }, w.opts...)
	w.done <- r
	return nil
}

// Watch asks the host for the rate MaxRate gives (none below 0), hands the
// UI every tracker in order, and ends with the host's error when the host
// fails mid-stream, after the updates sent before it.
func TestUIWatch(t *testing.T) {
	t.Parallel()
	first := &hostpb.Update{Torrent: hostTorrent, Have: bits(2).Bytes(), Trackers: []*hostpb.Tracker{
		{Url: "udp://a", Tier: 0, Current: true, NextAnnounceUnix: 1700000060, LastError: "timeout"},
		{Url: "http://b", Tier: 1},
	}}
	tests := map[string]struct {
		opts     []WatchOption
		watchErr error
		rate     uint32 // asked of the host
		wantErr  string
	}{
		"no option":             {rate: 0},
		"max rate":              {opts: []WatchOption{MaxRate(5)}, rate: 5},
		"negative rate":         {opts: []WatchOption{MaxRate(-3)}, rate: 0},
		"the last option wins":  {opts: []WatchOption{MaxRate(5), MaxRate(2)}, rate: 2},
		"host fails mid-stream": {watchErr: status.Error(codes.Internal, "host broke"), wantErr: "host broke"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := &rateWatcher{opts: tc.opts, done: make(chan watchResult, 1)}
			hs := connect(t, UIKind, func(b *plugin.GRPCBroker, s *grpc.Server) {
				uipb.RegisterUIServer(s, &uiServer{impl: w, broker: b})
			})
			host := &fakeHost{updates: []*hostpb.Update{first}, watchErr: tc.watchErr}
			if _, err := uipb.NewUIClient(hs.conn).Run(context.Background(), &uipb.RunRequest{HostBrokerId: serveHost(hs, host)}); err != nil {
				t.Fatal(err)
			}
			r := recv(t, w.done, "the UI's Watch result")
			if tc.wantErr == "" && r.err != nil || tc.wantErr != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr)) {
				t.Fatalf("Watch: %v, want %q", r.err, tc.wantErr)
			}
			host.mu.Lock()
			rate := host.watchReq.GetMaxRate()
			host.mu.Unlock()
			if rate != tc.rate {
				t.Fatalf("the host was asked for %d updates a second, want %d", rate, tc.rate)
			}
			if len(r.got) != 1 {
				t.Fatalf("%d updates, want the 1 sent", len(r.got))
			}
			want := []TrackerInfo{
				{URL: "udp://a", Tier: 0, Current: true, NextAnnounce: fromUnix(1700000060), LastError: "timeout"},
				{URL: "http://b", Tier: 1},
			}
			if !reflect.DeepEqual(r.got[0].Trackers, want) {
				t.Fatalf("trackers %+v, want %+v", r.got[0].Trackers, want)
			}
		})
	}
}

// brokenHost fails every filesystem call with an error that is not the
// client stopping.
type brokenHost struct{ hostpb.UnimplementedHostServer }

func (brokenHost) Torrents(context.Context, *hostpb.TorrentsRequest) (*hostpb.TorrentsResponse, error) {
	return nil, status.Error(codes.Internal, "no torrents here")
}

func (brokenHost) Read(context.Context, *hostpb.ReadRequest) (*hostpb.ReadResponse, error) {
	return nil, status.Error(codes.Internal, "disk on fire")
}

// A host that fails a filesystem call is that call's error: not
// ErrUnavailable (the FS would then answer as for a stopping client), not
// a context error; and an Unmount that fails reaches the host as such.
func TestFSHostErrors(t *testing.T) {
	t.Parallel()
	m := &mounter{unmountErr: errors.New("mount busy")}
	hs := connect(t, FSKind, func(b *plugin.GRPCBroker, s *grpc.Server) {
		fspb.RegisterFSServer(s, &fsServer{impl: m, broker: b})
	})
	c := fspb.NewFSClient(hs.conn)
	if _, err := c.Mount(context.Background(), &fspb.MountRequest{HostBrokerId: serveHost(hs, brokenHost{}), Mountpoint: "/mnt"}); err != nil {
		t.Fatal(err)
	}
	if err := m.errs["torrents"]; err == nil || !strings.Contains(err.Error(), "no torrents here") || m.torrents != nil {
		t.Fatalf("Torrents: %v, %v; want the host's error", m.torrents, err)
	}
	for _, k := range []string{"read", "unavailable"} {
		if err := m.errs[k]; err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) || status.Code(err) != codes.Internal {
			t.Fatalf("%s: %v, want the host's own error", k, err)
		}
	}
	if _, err := c.Unmount(context.Background(), &fspb.UnmountRequest{}); err == nil || !strings.Contains(err.Error(), "mount busy") || !m.unmounted {
		t.Fatalf("unmount: %v (reached the plugin: %v), want the plugin's error", err, m.unmounted)
	}
}
