// Package ui runs a user interface plugin (kind "ui", e.g. ui-term): it
// starts the process, serves it the host API over go-plugin's broker and
// calls its Run.
package ui

import (
	"context"
	"fmt"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/plugins"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/proto/uipb"
	"github.com/torrent-dev/torrent/sdk"
)

// Config says which plugin to run and what to serve it.
type Config struct {
	Spec     string        // name or path
	Reattach *sdk.Reattach // a UI started by hand in debug mode, instead of Spec
	Logger   hclog.Logger
	Host     hostpb.HostServer
}

// Running is a started UI plugin.
type Running struct {
	Done <-chan error // Run's result: nil when the user left the UI
	Path string
	p    *plugins.Plugin
}

// Kill stops the plugin process.
func (r *Running) Kill() { r.p.Kill() }

// Start launches the UI plugin and runs it until ctx ends or the user
// leaves it.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	p, err := plugins.Start(plugins.Options{Kind: sdk.UIKind, Spec: cfg.Spec, Reattach: cfg.Reattach, Logger: cfg.Logger,
		// The plugin puts the terminal back when the host dies (sdk.ServeUI).
		DeathSignal: syscall.SIGHUP})
	if err != nil {
		return nil, err
	}
	ui := uipb.NewUIClient(p.Conn)
	id := p.ServeHost(cfg.Host)
	done := make(chan error, 1)
	go func() {
		_, err := ui.Run(ctx, &uipb.RunRequest{HostBrokerId: id})
		if err != nil && p.Exited() {
			err = fmt.Errorf("%w (plugin process exited)", err)
		}
		done <- err
	}()
	return &Running{Done: done, Path: p.Path, p: p}, nil
}
