package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/dht"
	"github.com/torrent-dev/torrent/host/session"
)

// dhtStateFile keeps the DHT node's ID and routing table in -dir, so the
// next start bootstraps from it without the routers.
const dhtStateFile = ".torrent-dht.nodes"

// dhtCloseWait bounds how long exit waits for the DHT node to close (it
// saves the routing table, then ends its lookups); past it the process
// exits anyway and the file from the last periodic save stands.
const dhtCloseWait = 5 * time.Second

// bootstrapFlag is -dht-bootstrap: HOST:PORT,... ("" for none).
type bootstrapFlag []string

func (b *bootstrapFlag) String() string { return strings.Join(*b, ",") }

func (b *bootstrapFlag) Set(s string) error {
	var nodes []string
	for _, hp := range strings.Split(s, ",") {
		hp = strings.TrimSpace(hp)
		if hp == "" {
			continue
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" {
			return fmt.Errorf("%q is not HOST:PORT", hp)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("%q: port out of range", hp)
		}
		nodes = append(nodes, hp)
	}
	*b = nodes
	return nil
}

// listenPeers opens the BitTorrent port, and with -dht the same port over
// UDP for the DHT node (nil if that port is taken over UDP).
func listenPeers(f *downloadFlags) (net.Listener, net.PacketConn, error) {
	if !f.dht {
		ln, err := session.Listen(f.port)
		return ln, nil, err
	}
	return session.ListenWithUDP(f.port)
}

// startDHTNode starts the DHT node for a download on udp, the UDP side of
// the BitTorrent port, unless -dht=false or the torrent is private (BEP 27:
// no DHT for it at all, not even a node). A node that cannot start is a
// warning: the download goes on without it. closeNode closes it within
// dhtCloseWait.
func startDHTNode(f *downloadFlags, private bool, ln net.Listener, udp net.PacketConn, log hclog.Logger) (*dht.Node, func()) {
	noop := func() {}
	if !f.dht {
		return nil, noop
	}
	if udp == nil {
		log.Warn("DHT off: the UDP port is taken", "port", ln.Addr().(*net.TCPAddr).Port)
		return nil, noop
	}
	if private {
		udp.Close()
		log.Info("private torrent: DHT off")
		return nil, noop
	}
	if err := makeDataDir(f.dir); err != nil {
		udp.Close()
		return nil, noop // the session reports it
	}
	node, err := dht.New(dht.Config{
		Conn:      udp, // IPv4 and IPv6 (BEP 32) on one socket
		Bootstrap: f.dhtBootstrap,
		StateFile: filepath.Join(f.dir, dhtStateFile),
		Logger:    log.Named("dht"),
	})
	if err != nil {
		log.Warn("DHT off: node not started", "error", err)
		return nil, noop
	}
	log.Info("DHT node started", "port", node.Port(), "routing_table", node.Nodes())
	return node, func() {
		done := make(chan error, 1)
		go func() { done <- node.Close() }()
		select {
		case err := <-done:
			if err != nil {
				log.Warn("DHT routing table not saved at exit", "error", err)
			}
		case <-time.After(dhtCloseWait):
			log.Warn("DHT node still closing; exiting without it", "waited", dhtCloseWait)
		}
	}
}
