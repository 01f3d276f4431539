package hostapi

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/proto/hostpb"
)

// openThree opens a session (not running) of a torrent of three files
// with opts (its Dir is set here).
func openThree(t *testing.T, opts session.Options) *session.Session {
	t.Helper()
	dir := t.TempDir()
	for name, size := range map[string]int{"t/a.bin": 1000, "t/b.txt": 10, "t/c/d.bin": 20} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := metainfo.Create(filepath.Join(dir, "t"), metainfo.CreateOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	torrent := filepath.Join(dir, "t.torrent")
	if err := os.WriteFile(torrent, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Dir = t.TempDir()
	s, err := session.Open(torrent, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SetFile changes what plugins see of the files, and refuses bad
// requests with the status codes the proto names.
func TestSetFile(t *testing.T) {
	t.Parallel()
	s := openThree(t, session.Options{})
	srv := New(s, NewLogRing(10), func() {})
	ctx := context.Background()
	if _, err := srv.SetFile(ctx, &hostpb.SetFileRequest{Index: 0, Skip: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SetFile(ctx, &hostpb.SetFileRequest{Index: 2, Priority: 1}); err != nil {
		t.Fatal(err)
	}
	files := sessionInfo(s).Files
	if !files[0].Skipped || files[1].Skipped || files[2].Skipped || files[2].Priority != 1 || files[0].Priority != 0 {
		t.Fatalf("files after the changes: %v", files)
	}
	// In order: the last one would leave no file.
	for _, tc := range []struct {
		name string
		req  *hostpb.SetFileRequest
		code codes.Code
	}{
		{"no such file", &hostpb.SetFileRequest{Index: 3}, codes.InvalidArgument},
		{"bad priority", &hostpb.SetFileRequest{Index: 1, Priority: 2}, codes.InvalidArgument},
		{"skip b too", &hostpb.SetFileRequest{Index: 1, Skip: true}, codes.OK},
		{"the last one skipped", &hostpb.SetFileRequest{Index: 2, Skip: true}, codes.FailedPrecondition},
	} {
		_, err := srv.SetFile(ctx, tc.req)
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

// watchStream collects a Watch's updates until it has n.
type watchStream struct {
	grpc.ServerStream
	ctx    context.Context
	cancel func()
	n      int
	got    []*hostpb.Update
	after  func(int) // called after each update
}

func (w *watchStream) Context() context.Context     { return w.ctx }
func (w *watchStream) SetHeader(metadata.MD) error  { return nil }
func (w *watchStream) SendHeader(metadata.MD) error { return nil }
func (w *watchStream) SetTrailer(metadata.MD)       {}
func (w *watchStream) Send(u *hostpb.Update) error {
	w.got = append(w.got, u)
	w.after(len(w.got))
	if len(w.got) == w.n {
		w.cancel()
	}
	return nil
}

// A Watch sends the torrent again after a SetFile, with the change, and
// not on the updates in between.
func TestWatchResendsTorrentOnSetFile(t *testing.T) {
	t.Parallel()
	s := openThree(t, session.Options{})
	srv := New(s, NewLogRing(10), func() {})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &watchStream{ctx: ctx, cancel: cancel, n: 4}
	w.after = func(k int) {
		if k == 2 {
			if _, err := srv.SetFile(ctx, &hostpb.SetFileRequest{Index: 1, Skip: true}); err != nil {
				t.Error(err)
			}
		}
	}
	if err := srv.Watch(&hostpb.WatchRequest{MaxRate: 20}, w); err != nil {
		t.Fatal(err)
	}
	if len(w.got) != 4 {
		t.Fatalf("%d updates", len(w.got))
	}
	if w.got[0].Torrent == nil || w.got[1].Torrent != nil || w.got[3].Torrent != nil {
		t.Fatal("the torrent went with an update other than the first and the one after the change")
	}
	tor := w.got[2].GetTorrent()
	if tor == nil || !tor.Files[1].Skipped || tor.Files[0].Skipped {
		t.Fatalf("the update after SetFile: %v", tor)
	}
}
