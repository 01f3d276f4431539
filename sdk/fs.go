package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/proto/fspb"
	"github.com/torrent-dev/torrent/proto/hostpb"
)

// Filesystem plugin protocol (torfs).
const (
	FSProtocol = 1
	FSKind     = "torfs"
)

// ErrUnavailable is a read whose data will not come: the client is
// stopping, or a directory mount lacks those pieces.
var ErrUnavailable = errors.New("data unavailable")

// Files is the client as a filesystem plugin sees it.
type Files interface {
	Torrents(ctx context.Context) ([]TorrentInfo, error)
	// ReadAt reads torrent bytes at off, waiting for missing pieces (and
	// making them and the next readahead bytes urgent) unless the data
	// cannot come: then ErrUnavailable. Cancelling ctx cancels the wait.
	ReadAt(ctx context.Context, torrent int, p []byte, off, readahead int64) (int, error)
	// Complete reports whether [off, off+n) can be read at once.
	Complete(ctx context.Context, torrent int, off, n int64) (bool, error)
}

// FS is a filesystem plugin.
type FS interface {
	// Mount makes the files visible at mountpoint and returns; they stay
	// until Unmount.
	Mount(ctx context.Context, files Files, mountpoint string, perTorrentDirs bool) error
	Unmount() error
}

// ServeFS serves fs to the host; it is a filesystem plugin's whole main.
func ServeFS(fs FS, opts ...ServeOption) {
	serve(FSKind, FSProtocol, func(b *plugin.GRPCBroker, s *grpc.Server) {
		fspb.RegisterFSServer(s, &fsServer{impl: fs, broker: b})
	}, newServeConfig(opts))
}

var _ fspb.FSServer = (*fsServer)(nil)

type fsServer struct {
	fspb.UnimplementedFSServer
	impl   FS
	broker *plugin.GRPCBroker
	conn   *grpc.ClientConn
}

// Mount dials the host API and mounts. The connection lives until Unmount:
// reads go through it.
func (s *fsServer) Mount(ctx context.Context, req *fspb.MountRequest) (*fspb.MountResponse, error) {
	conn, err := s.broker.Dial(req.GetHostBrokerId())
	if err != nil {
		return nil, fmt.Errorf("dial the host API: %w", err)
	}
	s.conn = conn
	files := &filesClient{c: hostpb.NewHostClient(conn)}
	// The mount outlives this call: it must not end with ctx.
	if err := s.impl.Mount(context.WithoutCancel(ctx), files, req.GetMountpoint(), req.GetPerTorrentDirs()); err != nil {
		conn.Close()
		return nil, err
	}
	return &fspb.MountResponse{}, nil
}

func (s *fsServer) Unmount(context.Context, *fspb.UnmountRequest) (*fspb.UnmountResponse, error) {
	err := s.impl.Unmount()
	if s.conn != nil {
		s.conn.Close()
	}
	if err != nil {
		return nil, err
	}
	return &fspb.UnmountResponse{}, nil
}

// filesClient is Files over the host API.
type filesClient struct{ c hostpb.HostClient }

var _ Files = (*filesClient)(nil)

func (f *filesClient) Torrents(ctx context.Context) ([]TorrentInfo, error) {
	r, err := f.c.Torrents(ctx, &hostpb.TorrentsRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]TorrentInfo, len(r.GetTorrents()))
	for i, t := range r.GetTorrents() {
		out[i] = *torrentFromProto(t)
	}
	return out, nil
}

func (f *filesClient) ReadAt(ctx context.Context, torrent int, p []byte, off, readahead int64) (int, error) {
	r, err := f.c.Read(ctx, &hostpb.ReadRequest{Torrent: uint32(torrent), Offset: uint64(off), Length: uint32(len(p)), Readahead: uint64(readahead)})
	if err != nil {
		switch status.Code(err) {
		case codes.Unavailable:
			return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
		case codes.Canceled, codes.DeadlineExceeded:
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
		}
		return 0, err
	}
	return copy(p, r.GetData()), nil
}

func (f *filesClient) Complete(ctx context.Context, torrent int, off, n int64) (bool, error) {
	r, err := f.c.Complete(ctx, &hostpb.CompleteRequest{Torrent: uint32(torrent), Offset: uint64(off), Length: uint64(n)})
	return r.GetComplete(), err
}
