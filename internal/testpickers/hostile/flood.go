package main

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/sdk"
)

// serveFlood speaks the picker protocol directly (the SDK would not
// misbehave this way): it answers nothing it is asked and sends a stream of
// answers to batches that never asked.
func serveFlood() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{sdk.PickerProtocol: {sdk.PickerKind: floodPlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

type floodPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (floodPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pickerpb.RegisterPickerServer(s, flood{})
	return nil
}

func (floodPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server only")
}

type flood struct {
	pickerpb.UnimplementedPickerServer
}

func (flood) Capabilities(context.Context, *pickerpb.CapabilitiesRequest) (*pickerpb.CapabilitiesResponse, error) {
	return &pickerpb.CapabilitiesResponse{Protocol: sdk.PickerProtocol, Name: "hostile-flood"}, nil
}

func (flood) Session(stream pickerpb.Picker_SessionServer) error {
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
		}
	}()
	for seq := uint64(1 << 40); ; seq++ {
		p := &pickerpb.Picks{Seq: seq, Peers: []*pickerpb.PeerPicks{{Peer: 1, Pieces: []uint32{0, 1, 2}}}}
		if err := stream.Send(p); err != nil {
			return err
		}
	}
}
