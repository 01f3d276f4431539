package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-plugin"
)

// DebugEnv, set in a plugin's environment, makes its Serve run on its own
// (under a debugger, say) and print a reattach line for the host:
//
//	TORRENT_PLUGIN_DEBUG=1 dlv exec ./my-picker
//	torrent -picker-reattach '{"pid":...}' x.torrent
//
// Every kind has its flag: -picker-reattach, -ui-reattach (with -g) and
// -torfs-reattach (with -torfs); the line printed names the right one.
const DebugEnv = "TORRENT_PLUGIN_DEBUG"

// PickerDebugEnv is DebugEnv's first name, from when only pickers had a
// debug mode; pickers still honour it.
const PickerDebugEnv = "TORRENT_PICKER_DEBUG"

func debugMode(kind string) bool {
	return os.Getenv(DebugEnv) != "" || (kind == PickerKind && os.Getenv(PickerDebugEnv) != "")
}

// reattachUsage is the client command line that attaches to a debug-mode
// plugin of each kind.
var reattachUsage = map[string]string{
	PickerKind: "torrent -picker-reattach '%s' FILE.torrent",
	UIKind:     "torrent -g -ui-reattach '%s' FILE.torrent",
	FSKind:     "torrent -torfs MOUNTPOINT -torfs-reattach '%[1]s' FILE.torrent\n  or: torrent mount -torfs-reattach '%[1]s' DIR MOUNTPOINT",
}

// Reattach is how the host finds a plugin started by hand.
type Reattach struct {
	Kind    string `json:"kind,omitempty"` // empty in lines printed before every kind had a debug mode
	Pid     int    `json:"pid"`
	Network string `json:"network"`
	Addr    string `json:"addr"`
	Version int    `json:"version"`
}

// ParseReattach reads the JSON a debug-mode plugin prints.
func ParseReattach(s string) (Reattach, error) {
	var r Reattach
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, fmt.Errorf("reattach config: %w", err)
	}
	if r.Pid <= 0 || r.Addr == "" || (r.Network != "unix" && r.Network != "tcp") {
		return r, fmt.Errorf("reattach config %q: want pid, network unix or tcp, and addr", s)
	}
	return r, nil
}

// Config is the go-plugin form of r.
func (r Reattach) Config() (*plugin.ReattachConfig, error) {
	var addr net.Addr
	var err error
	if r.Network == "unix" {
		addr, err = net.ResolveUnixAddr("unix", r.Addr)
	} else {
		addr, err = net.ResolveTCPAddr("tcp", r.Addr)
	}
	if err != nil {
		return nil, err
	}
	return &plugin.ReattachConfig{Protocol: plugin.ProtocolGRPC, ProtocolVersion: r.Version, Addr: addr, Pid: r.Pid, Test: true}, nil
}

// serveDebug serves cfg unmanaged until SIGINT/SIGTERM, printing the
// reattach line on stdout.
func serveDebug(kind string, cfg *plugin.ServeConfig) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ch := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: ch, CloseCh: closed}
	go plugin.Serve(cfg)
	select {
	case rc := <-ch:
		b, _ := json.Marshal(Reattach{Kind: kind, Pid: rc.Pid, Network: rc.Addr.Network(), Addr: rc.Addr.String(), Version: rc.ProtocolVersion})
		fmt.Printf("%s plugin running in debug mode; start the client with:\n  %s\n", kind, fmt.Sprintf(reattachUsage[kind], b))
	case <-closed:
		return
	}
	<-closed
}
