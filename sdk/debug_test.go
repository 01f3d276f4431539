package sdk

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// The reattach line a debug-mode plugin prints parses back to a go-plugin
// config of the right network; lines without a pid, an address or a known
// network are errors that say what is missing.
func TestParseReattach(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		line    string
		network string // of the config's Addr; "" for a parse error
		wantErr string
	}{
		"unix":         {line: `{"kind":"picker","pid":42,"network":"unix","addr":"/tmp/p.sock","version":1}`, network: "unix"},
		"tcp":          {line: `{"pid":42,"network":"tcp","addr":"127.0.0.1:1234","version":1}`, network: "tcp"},
		"not json":     {line: `pid=42`, wantErr: "reattach config"},
		"no pid":       {line: `{"network":"unix","addr":"/tmp/p.sock"}`, wantErr: "want pid"},
		"no addr":      {line: `{"pid":42,"network":"unix"}`, wantErr: "want pid"},
		"udp":          {line: `{"pid":42,"network":"udp","addr":"127.0.0.1:1"}`, wantErr: "network unix or tcp"},
		"bad tcp addr": {line: `{"pid":42,"network":"tcp","addr":"no port"}`, network: "config error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseReattach(tc.line)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseReattach(%s) = %v, want an error with %q", tc.line, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := r.Config()
			if tc.network == "config error" {
				if err == nil {
					t.Fatalf("Config of %s: no error", tc.line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr.Network() != tc.network || cfg.Pid != 42 || cfg.Protocol != plugin.ProtocolGRPC || !cfg.Test {
				t.Fatalf("config %+v", cfg)
			}
			if _, ok := cfg.Addr.(*net.TCPAddr); ok != (tc.network == "tcp") {
				t.Fatalf("addr %T for network %s", cfg.Addr, tc.network)
			}
		})
	}
}

// DebugEnv puts every kind in debug mode; the picker's older name only
// pickers.
func TestDebugMode(t *testing.T) {
	t.Setenv(DebugEnv, "")
	t.Setenv(PickerDebugEnv, "")
	for _, k := range []string{PickerKind, UIKind, FSKind} {
		if debugMode(k) {
			t.Fatalf("%s in debug mode with neither variable set", k)
		}
	}
	t.Setenv(PickerDebugEnv, "1")
	if !debugMode(PickerKind) || debugMode(UIKind) || debugMode(FSKind) {
		t.Fatal("TORRENT_PICKER_DEBUG must put pickers only in debug mode")
	}
	t.Setenv(PickerDebugEnv, "")
	t.Setenv(DebugEnv, "1")
	for _, k := range []string{PickerKind, UIKind, FSKind} {
		if !debugMode(k) {
			t.Fatalf("%s not in debug mode with %s set", k, DebugEnv)
		}
	}
}

// Serve options: the name defaults to the executable's, and a logger given
// is the one used.
func TestServeOptions(t *testing.T) {
	t.Parallel()
	if cfg := newServeConfig(nil); cfg.name == "" || strings.Contains(cfg.name, "/") || cfg.logger == nil {
		t.Fatalf("default config %+v", cfg)
	}
	l := hclog.NewNullLogger()
	cfg := newServeConfig([]ServeOption{WithName("mine"), WithLogger(l)})
	if cfg.name != "mine" || cfg.logger != l {
		t.Fatalf("config %+v", cfg)
	}
	if _, err := (serverPlugin{}).GRPCClient(nil, nil, nil); err == nil {
		t.Fatal("the plugin side made a client")
	}
}

// Reset rejects a snapshot that does not fit its torrent; Peers lists the
// connected peers; Availability outside the torrent is 0.
func TestSwarmResetAndPeers(t *testing.T) {
	t.Parallel()
	tr := Torrent{NumPieces: 4, PieceLength: 16}
	for name, s := range map[string]Snapshot{
		"piece length 0": {Torrent: Torrent{NumPieces: 4}, Have: bits(4)},
		"short have":     {Torrent: tr, Have: bits(3)},
		"bad urgent":     {Torrent: tr, Have: bits(4), Urgent: []int{4}},
		"bad peer":       {Torrent: tr, Have: bits(4), Peers: map[PeerID]bitfield.Bitfield{1: bits(5)}},
	} {
		if _, err := NewSwarm(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	w, err := NewSwarm(Snapshot{Torrent: tr, Have: bits(4), Peers: map[PeerID]bitfield.Bitfield{3: bits(4, 1), 5: bits(4, 1, 2)}})
	if err != nil {
		t.Fatal(err)
	}
	ids := w.Peers()
	slices.Sort(ids)
	if !slices.Equal(ids, []PeerID{3, 5}) || w.Availability(1) != 2 || w.Availability(-1) != 0 || w.Availability(4) != 0 {
		t.Fatalf("peers %v, availability %d", ids, w.Availability(1))
	}
}
