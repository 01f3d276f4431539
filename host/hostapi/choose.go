package hostapi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/host/selection"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/proto/hostpb"
)

// SetFile chooses or skips a file of the running torrent and sets its
// priority (session.SetFile).
func (srv *Server) SetFile(_ context.Context, req *hostpb.SetFileRequest) (*hostpb.SetFileResponse, error) {
	if srv.s == nil {
		return nil, status.Error(codes.Unimplemented, "no running torrent")
	}
	p := req.GetPriority()
	if p < int32(selection.Low) || p > int32(selection.High) {
		return nil, status.Errorf(codes.InvalidArgument, "priority %d: not -1, 0 or 1", p)
	}
	m := srv.s.Meta()
	if m != nil && int(req.GetIndex()) >= len(m.Info.Files) {
		return nil, status.Errorf(codes.InvalidArgument, "no file %d: the torrent has %d", req.GetIndex(), len(m.Info.Files))
	}
	err := srv.s.SetFile(int(req.GetIndex()), req.GetSkip(), selection.Priority(p))
	switch {
	case err == nil:
		return &hostpb.SetFileResponse{}, nil
	case errors.Is(err, session.ErrNoMetadata), errors.Is(err, selection.ErrNothingLeft):
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	default:
		return nil, status.Error(codes.Internal, err.Error())
	}
}
