package plugins

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/sdk"
)

// Kinds are the plugin kinds the host knows, with the protocol versions it
// speaks for each.
var Kinds = map[string][]int{
	sdk.PickerKind: {sdk.PickerProtocol},
	sdk.UIKind:     {sdk.UIProtocol},
	sdk.FSKind:     {sdk.FSProtocol},
}

// Found is one plugin executable on disk.
type Found struct {
	Kind, Name, Path string
	Version          int   // negotiated protocol version; 0 if unusable
	Err              error // why it is unusable
}

// List finds plugin executables where Find looks (next to the binary,
// $TORRENT_PLUGIN_DIR, $PATH) and probes each; the first of a name wins,
// as with Find.
func List() []Found {
	var dirs []string
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
	}
	if d := os.Getenv("TORRENT_PLUGIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, filepath.SplitList(os.Getenv("PATH"))...)
	seen := map[string]bool{}
	var out []Found
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			kind, name, ok := parseName(e.Name())
			p := filepath.Join(d, e.Name())
			if !ok || seen[e.Name()] || executable(p) != nil {
				continue
			}
			seen[e.Name()] = true
			f := Found{Kind: kind, Name: name, Path: p}
			f.Version, f.Err = Probe(p, kind)
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+out[i].Name < out[j].Kind+out[j].Name })
	return out
}

// parseName splits torrent-KIND-NAME (or torrent-KIND).
func parseName(file string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(file, "torrent-")
	if !ok {
		return "", "", false
	}
	for k := range Kinds {
		if rest == k {
			return k, "", true
		}
		if n, ok := strings.CutPrefix(rest, k+"-"); ok && n != "" {
			return k, n, true
		}
	}
	return "", "", false
}

// Probe starts a plugin, completes the handshake and stops it: the
// negotiated protocol version, or why it cannot be used.
func Probe(path, kind string) (int, error) {
	c, err := newClient(path, versions(kind, connPlugin{}), hclog.NewNullLogger(), syscall.SIGKILL)
	if err != nil {
		return 0, err
	}
	defer c.Kill()
	if _, err := c.Start(); err != nil {
		return 0, err
	}
	return c.NegotiatedVersion(), nil
}
