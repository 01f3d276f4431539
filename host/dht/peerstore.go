package dht

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

// Caps of the peer store: what other nodes announce to us. A client's node
// is asked about few torrents, so these are far below libtorrent's
// (dht_max_torrents 2000, dht_max_peers 500) and bound the store's memory to
// about maxTorrents*maxPeersPerTorrent*~100 bytes = 5 MB, whatever a flood
// of announces holds. Entries expire after peerTTL: announcers repeat every
// 15 to 30 minutes (we do every AnnounceEvery), so a live peer stays.
const (
	maxTorrents        = 500
	maxPeersPerTorrent = 100
	maxPeersPerReply   = 50 // 50 IPv6 peers still fit a 1280-byte packet
	peerTTL            = 45 * time.Minute
)

// peerStore is the server's store of announced peers, keyed by IP:port (the
// library's InMemory keys by IP only, so every peer behind one address, or
// on 127.0.0.1, collapses into one).
type peerStore struct {
	mu       sync.Mutex
	now      func() time.Time
	torrents map[[20]byte]map[netip.AddrPort]time.Time
}

var _ peer_store.Interface = (*peerStore)(nil)

func newPeerStore() *peerStore {
	return &peerStore{now: time.Now, torrents: make(map[[20]byte]map[netip.AddrPort]time.Time)}
}

// AddPeer records an announce; a full torrent drops its oldest peer, a full
// store drops the torrent with the fewest peers (as libtorrent does), so a
// flood of one-peer info-hashes cannot push out a busy swarm.
func (ps *peerStore) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	ap, ok := nodeAddrPort(na)
	if !ok {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := ps.now()
	peers := ps.torrents[ih]
	if peers == nil {
		if len(ps.torrents) >= maxTorrents {
			ps.evictTorrent(now)
		}
		peers = make(map[netip.AddrPort]time.Time)
		ps.torrents[ih] = peers
	}
	if _, known := peers[ap]; !known && len(peers) >= maxPeersPerTorrent {
		expire(peers, now)
		if len(peers) >= maxPeersPerTorrent {
			delete(peers, oldest(peers))
		}
	}
	peers[ap] = now
}

// GetPeers returns up to maxPeersPerReply live peers, a random sample when
// there are more.
func (ps *peerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	peers := ps.torrents[ih]
	if peers == nil {
		return nil
	}
	expire(peers, ps.now())
	if len(peers) == 0 {
		delete(ps.torrents, ih)
		return nil
	}
	out := make([]krpc.NodeAddr, 0, min(len(peers), maxPeersPerReply))
	for ap := range peers { // map order is random: a fair sample
		out = append(out, krpc.NodeAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())})
		if len(out) == maxPeersPerReply {
			break
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// size is the number of torrents and peers held, for tests.
func (ps *peerStore) size() (torrents, peers int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.torrents {
		peers += len(p)
	}
	return len(ps.torrents), peers
}

func (ps *peerStore) evictTorrent(now time.Time) {
	var victim [20]byte
	fewest := -1
	for ih, peers := range ps.torrents {
		expire(peers, now)
		if fewest < 0 || len(peers) < fewest {
			victim, fewest = ih, len(peers)
		}
	}
	delete(ps.torrents, victim)
}

func expire(peers map[netip.AddrPort]time.Time, now time.Time) {
	for ap, t := range peers {
		if now.Sub(t) > peerTTL {
			delete(peers, ap)
		}
	}
}

func oldest(peers map[netip.AddrPort]time.Time) (o netip.AddrPort) {
	var ot time.Time
	for ap, t := range peers {
		if ot.IsZero() || t.Before(ot) {
			o, ot = ap, t
		}
	}
	return o
}

// nodeAddrPort converts a KRPC address, refusing port 0 and unspecified IPs
// (nobody can dial them).
func nodeAddrPort(na krpc.NodeAddr) (netip.AddrPort, bool) {
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok || na.Port <= 0 || na.Port > 65535 || ip.IsUnspecified() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(na.Port)), true
}
