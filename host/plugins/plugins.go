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

// sockets is where plugins put their sockets: one directory per host
// process, made on first use and removed by Cleanup. It belongs to the
// process, as go-plugin's list of managed clients (which Cleanup also
// ends) does.
var sockets socketDir

type socketDir struct {
	mu   sync.Mutex
	path string
}

func (d *socketDir) get() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.path == "" {
		p, err := os.MkdirTemp("", "torrent-plugins-")
		if err != nil {
			return "", fmt.Errorf("plugin socket directory: %w", err)
		}
		d.path = p
	}
	return d.path, nil
}

func (d *socketDir) remove() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.path != "" {
		os.RemoveAll(d.path)
		d.path = ""
	}
}

// grpcLimits raise gRPC's message limits on the host's side of the
// plugin connection (the plugin's side raises its own).
var grpcLimits = []grpc.DialOption{grpc.WithDefaultCallOptions(
	grpc.MaxCallRecvMsgSize(sdk.MaxMessageSize), grpc.MaxCallSendMsgSize(sdk.MaxMessageSize))}

// newClient prepares (does not start) a plugin client with the settings
// every plugin shares; Client() on it starts the process. death is what
// the kernel sends the plugin if the host dies without cleaning up.
func newClient(path string, sets map[int]plugin.PluginSet, log hclog.Logger, death syscall.Signal) (*plugin.Client, error) {
	dir, err := sockets.get()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), "PLUGIN_UNIX_SOCKET_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: death}
	return plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sets,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           log,
		AutoMTLS:         true,
		Managed:          true,
		GRPCDialOptions:  grpcLimits,
	}), nil
}

// newReattachClient connects to a plugin started by hand (debug mode)
// instead of starting one.
func newReattachClient(rc *plugin.ReattachConfig, sets map[int]plugin.PluginSet, log hclog.Logger) *plugin.Client {
	return plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sets,
		Plugins:          sets[rc.ProtocolVersion], // reattaching skips version negotiation
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           log,
		GRPCDialOptions:  grpcLimits,
	})
}

// Cleanup stops every managed plugin and removes the socket directory;
// cmd/torrent calls it on every way out.
func Cleanup() {
	plugin.CleanupClients()
	sockets.remove()
}
