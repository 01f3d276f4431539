package hostapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk"
)

// maxRead bounds one Read (FUSE asks for 128 KiB at most).
const maxRead = 4 << 20

// Library is what a filesystem plugin reads: a running session, or the
// torrents of a directory (`torrent mount`).
type Library interface {
	Torrents() []*hostpb.TorrentInfo
	ReadAt(ctx context.Context, torrent int, p []byte, off, readahead int64) (int, error)
	Complete(torrent int, off, n int64) bool
}

// TorrentInfo describes m for plugins.
func TorrentInfo(m *metainfo.MetaInfo, dir string) *hostpb.TorrentInfo {
	t := &hostpb.TorrentInfo{
		Name: m.Info.Name, InfoHash: fmt.Sprintf("%x", m.InfoHash), TotalLength: uint64(m.Info.Length),
		PieceLength: uint64(m.Info.PieceLength), NumPieces: uint32(m.Info.NumPieces()), Dir: dir, CreationDate: m.CreationDate,
	}
	for _, f := range m.Info.Files {
		t.Files = append(t.Files, &hostpb.FileInfo{Path: m.Info.RelPath(f), Length: uint64(f.Length), Offset: uint64(f.Offset)})
	}
	return t
}

// sessionLibrary serves one running session.
type sessionLibrary struct{ s *session.Session }

func (l sessionLibrary) Torrents() []*hostpb.TorrentInfo {
	m := l.s.Meta()
	if m == nil {
		return nil // a magnet link's metadata is not known yet: no files
	}
	return []*hostpb.TorrentInfo{sessionInfo(l.s)}
}

// sessionInfo describes a running session's torrent, with the files the
// user did not choose marked; the session's metadata must be known.
func sessionInfo(s *session.Session) *hostpb.TorrentInfo {
	m := s.Meta()
	t := TorrentInfo(m, s.Dir())
	sel := s.Sel()
	for i, f := range m.Info.Files {
		t.Files[i].Skipped = sel.Skips(&m.Info, f)
		t.Files[i].Priority = int32(sel.Priority(&m.Info, f))
	}
	return t
}

func (l sessionLibrary) ReadAt(ctx context.Context, torrent int, p []byte, off, readahead int64) (int, error) {
	if torrent != 0 {
		return 0, fmt.Errorf("no torrent %d", torrent)
	}
	return l.s.ReadAt(ctx, p, off, readahead)
}

func (l sessionLibrary) Complete(torrent int, off, n int64) bool {
	return torrent == 0 && l.s.Complete(off, n)
}

// Complete reports whether a range is verified.
func (srv *Server) Complete(_ context.Context, req *hostpb.CompleteRequest) (*hostpb.CompleteResponse, error) {
	return &hostpb.CompleteResponse{Complete: srv.lib.Complete(int(req.GetTorrent()), int64(req.GetOffset()), int64(req.GetLength()))}, nil
}

// Torrents lists the torrents served.
func (srv *Server) Torrents(context.Context, *hostpb.TorrentsRequest) (*hostpb.TorrentsResponse, error) {
	ts := srv.lib.Torrents()
	for _, t := range ts {
		t.Mountpoint = srv.mounted()
	}
	return &hostpb.TorrentsResponse{Torrents: ts}, nil
}

// Read serves torrent bytes.
func (srv *Server) Read(ctx context.Context, req *hostpb.ReadRequest) (*hostpb.ReadResponse, error) {
	if req.GetLength() > maxRead {
		return nil, status.Errorf(codes.InvalidArgument, "read of %d bytes; at most %d", req.GetLength(), maxRead)
	}
	buf := make([]byte, req.GetLength())
	n, err := srv.lib.ReadAt(ctx, int(req.GetTorrent()), buf, int64(req.GetOffset()), int64(req.GetReadahead()))
	switch {
	case err == nil:
		return &hostpb.ReadResponse{Data: buf[:n]}, nil
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, sdk.ErrUnavailable):
		return nil, status.Error(codes.Unavailable, err.Error())
	default:
		return nil, status.Error(codes.Internal, err.Error())
	}
}
