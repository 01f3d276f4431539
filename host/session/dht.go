package session

import (
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"time"

	"github.com/torrent-dev/torrent/host/dht"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
)

// DHT rounds (get_peers, then announce_peer) for our torrent: the first at
// once, the next after dhtFirstGap, each gap twice the last up to
// dhtMaxGap, libtorrent's dht_announce_interval. A download that starts
// before its swarm has announced finds it within seconds, and a seeder's
// announce never lapses (stores keep peers 30 min or more).
const (
	dhtFirstGap = 10 * time.Second
	dhtMaxGap   = 15 * time.Minute
)

// startDHT looks our torrent up on the DHT and announces our listening port
// there (BEP 5) while the torrent downloads and seeds, handing the peers
// found to add as addrbook.DHT. Without Options.DHT, or for a private
// torrent (BEP 27: its peers come from its trackers only), it does nothing.
// A magnet link's lookups start before its metadata says whether it is
// private; sources.private ends them once it does. stop ends the lookups
// and returns once they have.
func (s *Session) startDHT(ctx context.Context, add func(src addrbook.Source, addrs []netip.AddrPort)) (stop func()) {
	if s.opts.DHT == nil {
		return func() {}
	}
	if m := s.Meta(); m != nil && m.Info.Private {
		s.log.Info("private torrent: not using the DHT for it")
		return func() {}
	}
	return s.dhtLookup(ctx, s.infoHash, add)
}

// dhtLookup is startDHT for an info-hash, whatever the metadata says: for
// the metadata phase of a magnet link, which has no Meta yet.
func (s *Session) dhtLookup(ctx context.Context, ih [20]byte, add func(src addrbook.Source, addrs []netip.AddrPort)) (stop func()) {
	node := s.opts.DHT
	if node == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	port := s.listenPort() // 0: nothing to announce, get_peers only
	found := node.AnnounceOn(ctx, ih, port, dht.Backoff(dhtFirstGap, dhtMaxGap))
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := make(map[netip.AddrPort]bool)
		for peers := range found {
			add(addrbook.DHT, peers)
			fresh := 0
			for _, p := range peers {
				if !seen[p] && len(seen) < maxLoggedDHTPeers {
					seen[p] = true
					fresh++
				}
			}
			if fresh > 0 {
				s.log.Debug("peers from the DHT", "new", fresh, "infohash", hex.EncodeToString(ih[:]))
			}
		}
	}()
	s.log.Debug("DHT lookups started", "infohash", hex.EncodeToString(ih[:]), "announce_port", port)
	return func() { cancel(); <-done }
}

// maxLoggedDHTPeers bounds the set that keeps the log to new peers only.
const maxLoggedDHTPeers = 4096

// listenPort is the port of our BitTorrent listener, 0 without one.
func (s *Session) listenPort() int {
	if s.opts.Listener != nil {
		if a, ok := s.opts.Listener.Addr().(*net.TCPAddr); ok {
			return a.Port
		}
	}
	return 0
}

// dhtPorts is what the swarm needs for BEP 5's Port message: our node's
// port to send, and where the nodes peers name go (into our routing
// table). Zero without a DHT or for a private torrent.
func (s *Session) dhtPorts() (port int, seen func(netip.AddrPort)) {
	node := s.opts.DHT
	if m := s.Meta(); node == nil || m == nil || m.Info.Private {
		return 0, nil
	}
	return node.Port(), func(a netip.AddrPort) { node.AddNode(a) }
}
