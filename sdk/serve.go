package sdk

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ServeOption adjusts ServePicker, ServeUI and ServeFS.
type ServeOption func(*serveConfig)

type serveConfig struct {
	name   string
	logger hclog.Logger
	// hosted ties the life of a plugin the host started to the host's:
	// hostedLife unless a kind needs its own (a UI must put the terminal
	// back before it exits).
	hosted func(hclog.Logger)
}

// WithName sets the name the host shows in its logs (default: the
// executable's name).
func WithName(name string) ServeOption { return func(c *serveConfig) { c.name = name } }

// WithLogger sets the plugin's logger; its output reaches the host's log.
func WithLogger(l hclog.Logger) ServeOption { return func(c *serveConfig) { c.logger = l } }

func newServeConfig(opts []ServeOption) serveConfig {
	cfg := serveConfig{name: filepath.Base(os.Args[0]), hosted: hostedLife}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		// go-plugin relays JSON lines on stderr into the host's logger.
		cfg.logger = hclog.New(&hclog.LoggerOptions{Name: cfg.name, Output: os.Stderr, JSONFormat: true, Level: hclog.Info})
	}
	return cfg
}

// serve is the one way every plugin kind is served: the shared handshake,
// gRPC's message limits raised, and either debug mode (DebugEnv) or a
// plugin whose life the host owns. register puts the kind's service on
// the plugin's gRPC server.
func serve(kind string, version int, register func(*plugin.GRPCBroker, *grpc.Server), cfg serveConfig) {
	sc := &plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{version: {kind: serverPlugin{register: register}}},
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(o, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))...)
		},
		Logger: cfg.logger,
	}
	if debugMode(kind) {
		serveDebug(kind, sc)
		return
	}
	if os.Getenv(Handshake.MagicCookieKey) != "" {
		cfg.hosted(cfg.logger)
	}
	plugin.Serve(sc)
}

// hostedLife is how a picker or torfs plugin lives under the host: it
// ends with the host and leaves its stopping to the host.
func hostedLife(log hclog.Logger) {
	exitWithParent()
	ignoreStopSignals(log)
}

// serverPlugin is the plugin side of go-plugin's glue for every kind (the
// host's side is one type as well).
type serverPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	register func(*plugin.GRPCBroker, *grpc.Server)
}

var _ plugin.GRPCPlugin = serverPlugin{}

func (p serverPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	p.register(b, s)
	return nil
}

func (serverPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("plugin clients live in the host")
}

// exitWithParent ends the plugin when the host dies, however it dies: the
// kernel signals it (Linux), and a poll of the parent pid backs that up.
func exitWithParent() {
	parent := os.Getppid()
	setParentDeathSignal(syscall.SIGKILL)
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				os.Exit(0)
			}
		}
	}()
}

// ignoreStopSignals keeps a plugin the host started alive through SIGINT
// and SIGTERM. Sent to a process group (ctrl-c in a terminal, a service
// manager or timeout(1) stopping the client), they reach the plugin with
// its host, which then stops its plugins in order; a plugin ended by the
// signal first would look like a crash to the host. The host ending still
// ends the plugin (exitWithParent), as does the host closing it. go-plugin
// ignores SIGINT alone already. Notify, not signal.Ignore: an ignored
// signal would stay ignored in the programs a plugin runs (fusermount).
func ignoreStopSignals(log hclog.Logger) {
	c := make(chan os.Signal, 1)
	// HUP too: a closed terminal sends it to the whole group, and the
	// host stops on it (a UI plugin also watches for it: uilife.go).
	signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range c {
			log.Debug("signal ignored: the host stops its plugins", "signal", s)
		}
	}()
}
