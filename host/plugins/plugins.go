// Package plugins finds and starts plugin processes with go-plugin, with
// the settings every plugin kind shares: gRPC only, mutual TLS, the host's
// logger, a socket directory the host owns, and death with the host.
package plugins

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/sdk"
)

// Find resolves a plugin given as a name or a path. A value with a path
// separator is a path; a name NAME of kind KIND is the executable
// torrent-KIND-NAME (torrent-KIND for the empty name) next to the running binary, in $TORRENT_PLUGIN_DIR, or
// on $PATH, in that order.
func Find(kind, nameOrPath string) (string, error) {
	if strings.ContainsRune(nameOrPath, os.PathSeparator) {
		if err := executable(nameOrPath); err != nil {
			return "", fmt.Errorf("%s plugin %s: %w", kind, nameOrPath, err)
		}
		return filepath.Abs(nameOrPath)
	}
	exe := "torrent-" + kind + "-" + nameOrPath
	if nameOrPath == "" { // a kind with one plugin: torrent-KIND
		exe = "torrent-" + kind
	}
	var looked []string
	var dirs []string
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
	}
	if d := os.Getenv("TORRENT_PLUGIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, exe)
		if executable(p) == nil {
			return p, nil
		}
		looked = append(looked, d)
	}
	if p, err := exec.LookPath(exe); err == nil {
		return filepath.Abs(p)
	}
	looked = append(looked, "$PATH")
	return "", fmt.Errorf("%s plugin %q: no executable %s in %s", kind, nameOrPath, exe, strings.Join(looked, ", "))
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// socketDir is where plugins put their sockets; one per host process,
// removed by Cleanup.
var socketDir struct {
	sync.Mutex
	path string
}

func ownSocketDir() (string, error) {
	socketDir.Lock()
	defer socketDir.Unlock()
	if socketDir.path == "" {
		d, err := os.MkdirTemp("", "torrent-plugins-")
		if err != nil {
			return "", err
		}
		socketDir.path = d
	}
	return socketDir.path, nil
}

// Config describes one plugin process.
type Config struct {
	Path    string
	Plugins map[int]plugin.PluginSet // by protocol version
	Logger  hclog.Logger
	// DeathSignal is what the kernel sends the plugin when the host dies
	// without cleaning up: SIGKILL if zero. A UI plugin gets a signal it can
	// catch, to put the user's terminal back first.
	DeathSignal syscall.Signal
}

// NewClient prepares (does not start) a plugin client; Client() on it
// starts the process.
func NewClient(cfg Config) (*plugin.Client, error) {
	dir, err := ownSocketDir()
	if err != nil {
		return nil, fmt.Errorf("plugin socket directory: %w", err)
	}
	cmd := exec.Command(cfg.Path)
	cmd.Env = append(os.Environ(), "PLUGIN_UNIX_SOCKET_DIR="+dir)
	// The kernel kills the plugin if the host dies without cleaning up.
	death := cfg.DeathSignal
	if death == 0 {
		death = syscall.SIGKILL
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: death}
	return plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: cfg.Plugins,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           cfg.Logger,
		AutoMTLS:         true,
		Managed:          true,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize), grpc.MaxCallSendMsgSize(sdk.MaxMessageSize))},
	}), nil
}

// NewReattachClient connects to a plugin started by hand (debug mode)
// instead of starting one.
func NewReattachClient(rc *plugin.ReattachConfig, sets map[int]plugin.PluginSet, log hclog.Logger) *plugin.Client {
	return plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sets,
		Plugins:          sets[rc.ProtocolVersion], // reattaching skips version negotiation
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           log,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize), grpc.MaxCallSendMsgSize(sdk.MaxMessageSize))},
	})
}

// Cleanup stops every managed plugin and removes the socket directory;
// cmd/torrent calls it on every way out.
func Cleanup() {
	plugin.CleanupClients()
	socketDir.Lock()
	defer socketDir.Unlock()
	if socketDir.path != "" {
		os.RemoveAll(socketDir.path)
		socketDir.path = ""
	}
}
