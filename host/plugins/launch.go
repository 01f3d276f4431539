package plugins

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk"
)

// Options say which plugin to start.
type Options struct {
	Kind string // sdk.PickerKind, sdk.UIKind or sdk.FSKind
	Spec string // name or path, as Find takes it
	// Reattach, if set, is a plugin of Kind started by hand in debug mode
	// (sdk.DebugEnv): the host connects to it instead of starting Spec.
	Reattach *sdk.Reattach
	Logger   hclog.Logger
	// DeathSignal is what the kernel sends the plugin when the host dies
	// without cleaning up: SIGKILL if zero. A UI plugin gets one it can
	// catch (SIGHUP), to put the user's terminal back before it exits.
	DeathSignal syscall.Signal
}

// Plugin is a started plugin: the gRPC connection its kind's client is
// built on, and the process behind it.
type Plugin struct {
	Path   string // the executable, or "debug-mode KIND, pid N"
	Conn   *grpc.ClientConn
	broker *plugin.GRPCBroker
	client *plugin.Client
}

// Start finds the plugin (or reattaches to a debug-mode one), starts it,
// completes the handshake and opens its gRPC connection. Every plugin kind
// starts here, so they share the contract in NewClient and the debug mode.
func Start(opts Options) (*Plugin, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.DeathSignal == 0 {
		opts.DeathSignal = syscall.SIGKILL
	}
	sets := versions(opts.Kind, connPlugin{})
	if len(sets) == 0 {
		return nil, fmt.Errorf("unknown plugin kind %q", opts.Kind)
	}
	p := &Plugin{}
	if r := opts.Reattach; r != nil {
		if r.Kind != "" && r.Kind != opts.Kind {
			return nil, fmt.Errorf("the reattach line is for a %s plugin, not a %s plugin", r.Kind, opts.Kind)
		}
		rc, err := r.Config()
		if err != nil {
			return nil, fmt.Errorf("%s plugin reattach: %w", opts.Kind, err)
		}
		p.Path = DebugName(opts.Kind, r.Pid)
		p.client = newReattachClient(rc, sets, opts.Logger)
	} else {
		path, err := Find(opts.Kind, opts.Spec)
		if err != nil {
			return nil, err
		}
		p.Path = path
		if p.client, err = newClient(path, sets, opts.Logger, opts.DeathSignal); err != nil {
			return nil, err
		}
	}
	rpc, err := p.client.Client()
	if err != nil {
		p.client.Kill()
		// go-plugin adds paragraphs of advice; the first line is the cause.
		cause, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("%s plugin %s: %s", opts.Kind, p.Path, cause)
	}
	raw, err := rpc.Dispense(opts.Kind)
	if err != nil {
		p.client.Kill()
		return nil, fmt.Errorf("%s plugin %s: %w", opts.Kind, p.Path, err)
	}
	d := raw.(dispensed)
	p.Conn, p.broker = d.conn, d.broker
	return p, nil
}

// DebugName is how logs name a debug-mode plugin.
func DebugName(kind string, pid int) string { return fmt.Sprintf("debug-mode %s, pid %d", kind, pid) }

// ServeHost serves the host API to the plugin over go-plugin's broker and
// returns the broker id the plugin dials.
func (p *Plugin) ServeHost(h hostpb.HostServer) uint32 {
	id := p.broker.NextId()
	go p.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(sdk.MaxMessageSize), grpc.MaxSendMsgSize(sdk.MaxMessageSize))...)
		hostpb.RegisterHostServer(s, h)
		return s
	})
	return id
}

// Exited says whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Kill stops the plugin: it is asked to exit, and killed if it does not.
// A debug-mode plugin is left running; its user stops it.
func (p *Plugin) Kill() { p.client.Kill() }

// versions is the plugin set for every protocol version the host speaks
// for kind.
func versions(kind string, glue plugin.Plugin) map[int]plugin.PluginSet {
	sets := map[int]plugin.PluginSet{}
	for _, v := range Kinds[kind] {
		sets[v] = plugin.PluginSet{kind: glue}
	}
	return sets
}

// connPlugin is the host's go-plugin glue for every kind: it hands over
// the raw connection and broker, and each kind wraps the connection in its
// own generated client.
type connPlugin struct{ plugin.NetRPCUnsupportedPlugin }

var _ plugin.GRPCPlugin = connPlugin{}

type dispensed struct {
	conn   *grpc.ClientConn
	broker *plugin.GRPCBroker
}

func (connPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("plugin servers live in the plugins")
}

func (connPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return dispensed{conn: c, broker: b}, nil
}
