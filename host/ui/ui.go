// Package ui runs a user interface plugin (kind "ui", e.g. ui-term): it
// starts the process, serves it the host API over go-plugin's broker and
// calls its Run.
package ui

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/host/plugins"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/proto/uipb"
	"github.com/torrent-dev/torrent/sdk"
)

// Config says which plugin to run and what to serve it.
type Config struct {
	Spec   string // name or path
	Logger hclog.Logger
	Host   hostpb.HostServer
}

type clientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

var _ plugin.GRPCPlugin = clientPlugin{}

func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the UI server lives in the plugin")
}

func (clientPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{ui: uipb.NewUIClient(c), broker: b}, nil
}

type client struct {
	ui     uipb.UIClient
	broker *plugin.GRPCBroker
}

// Running is a started UI plugin.
type Running struct {
	Done   <-chan error // Run's result: nil when the user left the UI
	Path   string
	client *plugin.Client
}

// Kill stops the plugin process.
func (r *Running) Kill() { r.client.Kill() }

// Start launches the UI plugin and runs it until ctx ends or the user
// leaves it.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	path, err := plugins.Find(sdk.UIKind, cfg.Spec)
	if err != nil {
		return nil, err
	}
	pc, err := plugins.NewClient(plugins.Config{
		Path:    path,
		Plugins: map[int]plugin.PluginSet{sdk.UIProtocol: {sdk.UIKind: clientPlugin{}}},
		Logger:  cfg.Logger,
		// The plugin restores the terminal when the host dies (sdk.ServeUI).
		DeathSignal: syscall.SIGTERM,
	})
	if err != nil {
		return nil, err
	}
	rpc, err := pc.Client()
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("ui plugin %s: %w", path, err)
	}
	raw, err := rpc.Dispense(sdk.UIKind)
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("ui plugin %s: %w", path, err)
	}
	c := raw.(*client)
	id := c.broker.NextId()
	go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(append(opts, grpc.MaxSendMsgSize(sdk.MaxMessageSize))...)
		hostpb.RegisterHostServer(s, cfg.Host)
		return s
	})
	done := make(chan error, 1)
	go func() {
		_, err := c.ui.Run(ctx, &uipb.RunRequest{HostBrokerId: id})
		if err != nil && pc.Exited() {
			err = fmt.Errorf("%w (plugin process exited)", err)
		}
		done <- err
	}()
	return &Running{Done: done, Path: path, client: pc}, nil
}
