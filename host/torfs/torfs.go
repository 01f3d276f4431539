// Package torfs runs the torfs filesystem plugin: it serves the host API
// over go-plugin's broker, asks the plugin to mount, and makes sure the
// mount goes away however the plugin ends.
package torfs

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/host/plugins"
	"github.com/torrent-dev/torrent/proto/fspb"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk"
)

// Config describes a mount.
type Config struct {
	Mountpoint     string
	PerTorrentDirs bool // directory mode: a subdirectory per torrent
	Logger         hclog.Logger
	Host           hostpb.HostServer
}

type clientPlugin struct{ plugin.NetRPCUnsupportedPlugin }

var _ plugin.GRPCPlugin = clientPlugin{}

func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the filesystem server lives in the plugin")
}

func (clientPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{fs: fspb.NewFSClient(c), broker: b}, nil
}

type client struct {
	fs     fspb.FSClient
	broker *plugin.GRPCBroker
}

// Mount is a mounted filesystem.
type Mount struct {
	Path   string
	cfg    Config
	pc     *plugin.Client
	fs     fspb.FSClient
	once   sync.Once
	exited chan struct{}
}

// Start launches torrent-torfs and mounts. An error leaves nothing mounted.
func Start(ctx context.Context, cfg Config) (*Mount, error) {
	path, err := plugins.Find(sdk.FSKind, "")
	if err != nil {
		return nil, err
	}
	pc, err := plugins.NewClient(plugins.Config{
		Path:    path,
		Plugins: map[int]plugin.PluginSet{sdk.FSProtocol: {sdk.FSKind: clientPlugin{}}},
		Logger:  cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	rpc, err := pc.Client()
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("torfs plugin %s: %w", path, err)
	}
	raw, err := rpc.Dispense(sdk.FSKind)
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("torfs plugin %s: %w", path, err)
	}
	c := raw.(*client)
	id := c.broker.NextId()
	go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(append(opts, grpc.MaxSendMsgSize(sdk.MaxMessageSize))...)
		hostpb.RegisterHostServer(s, cfg.Host)
		return s
	})
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.fs.Mount(mctx, &fspb.MountRequest{HostBrokerId: id, Mountpoint: cfg.Mountpoint, PerTorrentDirs: cfg.PerTorrentDirs}); err != nil {
		pc.Kill()
		// The plugin's own message names the mountpoint already.
		return nil, errors.New(status.Convert(err).Message())
	}
	m := &Mount{Path: cfg.Mountpoint, cfg: cfg, pc: pc, fs: c.fs, exited: make(chan struct{})}
	go m.watch()
	return m, nil
}

// Exited is closed if the plugin process ends on its own (a crash); the
// mount is cleaned up by then.
func (m *Mount) Exited() <-chan struct{} { return m.exited }

// watch cleans up after a plugin that dies while mounted.
func (m *Mount) watch() {
	for !m.pc.Exited() {
		time.Sleep(200 * time.Millisecond)
	}
	m.once.Do(func() {
		lazyUnmount(m.Path)
		m.cfg.Logger.Warn("torfs plugin exited; the mount is gone, the download goes on", "mountpoint", m.Path)
	})
	close(m.exited)
}

// Unmount asks the plugin to unmount, then stops it; a lazy unmount covers
// a plugin that cannot.
func (m *Mount) Unmount() {
	m.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := m.fs.Unmount(ctx, &fspb.UnmountRequest{}); err != nil {
			m.cfg.Logger.Warn("torfs unmount failed; unmounting lazily", "mountpoint", m.Path, "error", err)
			lazyUnmount(m.Path)
		}
		m.pc.Kill()
	})
}

func lazyUnmount(dir string) {
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if exec.Command(bin, "-u", "-z", dir).Run() == nil {
			return
		}
	}
}
