// Package torfs runs the torfs filesystem plugin: it serves the host API
// over go-plugin's broker, asks the plugin to mount, and makes sure the
// mount goes away however the plugin ends.
package torfs

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/status"

	"github.com/torrent-dev/torrent/host/plugins"
	"github.com/torrent-dev/torrent/proto/fspb"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk"
)

// Config describes a mount.
type Config struct {
	Mountpoint     string
	PerTorrentDirs bool          // directory mode: a subdirectory per torrent
	Reattach       *sdk.Reattach // a torfs started by hand in debug mode, instead of torrent-torfs
	Logger         hclog.Logger
	Host           hostpb.HostServer
}

// Mount is a mounted filesystem.
type Mount struct {
	Path   string
	cfg    Config
	p      *plugins.Plugin
	fs     fspb.FSClient
	once   sync.Once
	exited chan struct{}
}

// Start launches torrent-torfs and mounts. An error leaves nothing mounted.
func Start(ctx context.Context, cfg Config) (*Mount, error) {
	p, err := plugins.Start(plugins.Options{Kind: sdk.FSKind, Reattach: cfg.Reattach, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	fs := fspb.NewFSClient(p.Conn)
	id := p.ServeHost(cfg.Host)
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := fs.Mount(mctx, &fspb.MountRequest{HostBrokerId: id, Mountpoint: cfg.Mountpoint, PerTorrentDirs: cfg.PerTorrentDirs}); err != nil {
		p.Kill()
		// The plugin's own message names the mountpoint already.
		return nil, errors.New(status.Convert(err).Message())
	}
	m := &Mount{Path: cfg.Mountpoint, cfg: cfg, p: p, fs: fs, exited: make(chan struct{})}
	go m.watch()
	return m, nil
}

// Exited is closed if the plugin process ends on its own (a crash); the
// mount is cleaned up by then.
func (m *Mount) Exited() <-chan struct{} { return m.exited }

// watch cleans up after a plugin that dies while mounted.
func (m *Mount) watch() {
	for !m.p.Exited() {
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
		m.p.Kill()
	})
}

func lazyUnmount(dir string) {
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if exec.Command(bin, "-u", "-z", dir).Run() == nil {
			return
		}
	}
}
