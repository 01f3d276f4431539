package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/proto/pickerpb"
)

// ServePicker serves p to the host and returns when the host is done with
// it. It is a picker plugin's whole main.
func ServePicker(p Picker, opts ...ServeOption) {
	cfg := newServeConfig(opts)
	serve(PickerKind, PickerProtocol, func(_ *plugin.GRPCBroker, s *grpc.Server) {
		pickerpb.RegisterPickerServer(s, &pickerServer{impl: p, name: cfg.name, log: cfg.logger})
	}, cfg)
}

var _ pickerpb.PickerServer = (*pickerServer)(nil)

type pickerServer struct {
	pickerpb.UnimplementedPickerServer
	impl Picker
	name string
	log  hclog.Logger
}

func (s *pickerServer) Capabilities(context.Context, *pickerpb.CapabilitiesRequest) (*pickerpb.CapabilitiesResponse, error) {
	return &pickerpb.CapabilitiesResponse{Protocol: PickerProtocol, Name: s.name, Features: []string{"urgent"}}, nil
}

// Session applies each batch to the swarm view and answers its wants.
func (s *pickerServer) Session(stream pickerpb.Picker_SessionServer) error {
	ctx := stream.Context()
	var sw *Swarm
	for {
		b, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if snap := b.GetSnapshot(); snap != nil {
			conv, err := snapshotFromProto(snap)
			if err != nil {
				return err
			}
			if sw, err = NewSwarm(conv); err != nil {
				return err
			}
		}
		if sw == nil {
			return errors.New("the first batch of a session must carry a snapshot")
		}
		events, err := eventsFromProto(b.GetEvents(), sw.Torrent().NumPieces)
		if err != nil {
			return fmt.Errorf("batch %d: %w", b.GetSeq(), err)
		}
		for _, e := range events {
			if err := sw.Apply(e); err != nil {
				return fmt.Errorf("batch %d: %w", b.GetSeq(), err)
			}
		}
		if h, ok := s.impl.(EventHandler); ok {
			if err := h.HandleEvents(ctx, sw, events); err != nil {
				s.log.Error("handling events", "error", err)
			}
		}
		if len(b.GetWant()) == 0 {
			continue
		}
		picks, err := s.impl.Pick(ctx, sw, wantsFromProto(b.GetWant()))
		if err != nil {
			// The host keeps going with its own choice; say why here.
			s.log.Error("pick failed", "error", err)
			picks = nil
		}
		if err := stream.Send(picksToProto(b.GetSeq(), picks)); err != nil {
			return err
		}
	}
}
