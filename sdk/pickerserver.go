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
	serve(PickerKind, PickerProtocol, &pickerServerPlugin{impl: p, name: cfg.name, log: cfg.logger}, cfg)
}

// pickerServerPlugin is the plugin side of go-plugin's glue.
type pickerServerPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Picker
	name string
	log  hclog.Logger
}

var _ plugin.GRPCPlugin = (*pickerServerPlugin)(nil)

func (p *pickerServerPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pickerpb.RegisterPickerServer(s, &pickerServer{p: p})
	return nil
}

func (p *pickerServerPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("the picker client lives in the host")
}

var _ pickerpb.PickerServer = (*pickerServer)(nil)

type pickerServer struct {
	pickerpb.UnimplementedPickerServer
	p *pickerServerPlugin
}

func (s *pickerServer) Capabilities(context.Context, *pickerpb.CapabilitiesRequest) (*pickerpb.CapabilitiesResponse, error) {
	return &pickerpb.CapabilitiesResponse{Protocol: PickerProtocol, Name: s.p.name, Features: []string{"urgent"}}, nil
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
		if h, ok := s.p.impl.(EventHandler); ok {
			if err := h.HandleEvents(ctx, sw, events); err != nil {
				s.p.log.Error("handling events", "error", err)
			}
		}
		if len(b.GetWant()) == 0 {
			continue
		}
		picks, err := s.p.impl.Pick(ctx, sw, wantsFromProto(b.GetWant()))
		if err != nil {
			// The host keeps going with its own choice; say why here.
			s.p.log.Error("pick failed", "error", err)
			picks = nil
		}
		if err := stream.Send(picksToProto(b.GetSeq(), picks)); err != nil {
			return err
		}
	}
}
