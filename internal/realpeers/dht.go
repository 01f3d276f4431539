package realpeers

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

//go:embed ltdht.py
var ltDHTScript string

// LTDHTOptions configure a libtorrent DHT node.
type LTDHTOptions struct {
	IP        string   // 127.0.0.x to listen on; default 127.0.0.1
	Bootstrap []string // HOST:PORT DHT nodes to start from
	// Torrent and Dir make it a seeder that announces only to the DHT.
	Torrent, Dir string
	// GetPeers is an info-hash (hex) it looks up every second; each peer
	// found is a "PEER ip:port" line of its output.
	GetPeers string
}

// StartLibtorrentDHT starts a libtorrent session with the DHT on and
// nothing else that reaches past loopback; its Port is both the TCP
// listener and the DHT's UDP port.
func StartLibtorrentDHT(t testing.TB, opt LTDHTOptions) *Peer {
	t.Helper()
	script := filepath.Join(t.TempDir(), "ltdht.py")
	if err := os.WriteFile(script, []byte(ltDHTScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if opt.IP == "" {
		opt.IP = "127.0.0.1"
	}
	args := []string{script, "--ip", opt.IP, "--port", strconv.Itoa(FreePort(t))}
	for _, b := range opt.Bootstrap {
		args = append(args, "--bootstrap", b)
	}
	if opt.Torrent != "" {
		args = append(args, "--torrent", opt.Torrent, "--dir", opt.Dir)
	}
	if opt.GetPeers != "" {
		args = append(args, "--get-peers", opt.GetPeers)
	}
	return start(t, "/usr/bin/python3", args, ltReady)
}

// WaitLine waits until the peer has printed a line equal to line.
func (p *Peer) WaitLine(ctx context.Context, line string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains("\n"+p.output(), "\n"+line+"\n") {
			return nil
		}
		select {
		case <-p.exit:
			return fmt.Errorf("exited without printing %q:\n%s", line, p.output())
		case <-ctx.Done():
			return fmt.Errorf("no line %q: %w\n%s", line, ctx.Err(), p.output())
		case <-tick.C:
		}
	}
}
