package dht

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
)

func na(s string) krpc.NodeAddr {
	ap := netip.MustParseAddrPort(s)
	return krpc.NodeAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
}

func TestPeerStoreKeysByIPAndPort(t *testing.T) {
	ps := newPeerStore()
	ih := [20]byte{1}
	ps.AddPeer(ih, na("127.0.0.1:6001"))
	ps.AddPeer(ih, na("127.0.0.1:6002"))
	ps.AddPeer(ih, na("127.0.0.1:6002")) // again: one entry
	got := map[string]bool{}
	for _, p := range ps.GetPeers(ih) {
		got[(&net.UDPAddr{IP: p.IP, Port: p.Port}).String()] = true
	}
	if len(got) != 2 || !got["127.0.0.1:6001"] || !got["127.0.0.1:6002"] {
		t.Errorf("GetPeers = %v, want both ports of 127.0.0.1", got)
	}
	// Nobody can dial port 0 or 0.0.0.0: not stored.
	ps.AddPeer(ih, na("127.0.0.1:0"))
	ps.AddPeer(ih, na("0.0.0.0:6003"))
	if _, n := ps.size(); n != 2 {
		t.Errorf("%d peers after undialable announces, want 2", n)
	}
}

func TestPeerStoreCaps(t *testing.T) {
	ps := newPeerStore()
	busy := [20]byte{0xff}
	for i := range maxPeersPerTorrent + 50 {
		ps.AddPeer(busy, krpc.NodeAddr{IP: net.IPv4(10, 0, byte(i>>8), byte(i)), Port: 6881})
	}
	if _, n := ps.size(); n != maxPeersPerTorrent {
		t.Errorf("one torrent holds %d peers, cap %d", n, maxPeersPerTorrent)
	}
	if got := len(ps.GetPeers(busy)); got != maxPeersPerReply {
		t.Errorf("GetPeers returned %d, cap %d", got, maxPeersPerReply)
	}
	// A flood of one-peer info-hashes fills the store but evicts among
	// themselves, not the busy torrent.
	for i := range maxTorrents * 3 {
		ps.AddPeer([20]byte{byte(i), byte(i >> 8), 1}, na("10.1.0.1:6881"))
	}
	torrents, peers := ps.size()
	if torrents != maxTorrents {
		t.Errorf("%d torrents, cap %d", torrents, maxTorrents)
	}
	if peers > maxTorrents*maxPeersPerTorrent {
		t.Errorf("%d peers, above the caps", peers)
	}
	if len(ps.GetPeers(busy)) == 0 {
		t.Error("the busy torrent was evicted by one-peer torrents")
	}
}

func TestPeerStoreExpires(t *testing.T) {
	ps := newPeerStore()
	now := time.Unix(1_000_000, 0)
	ps.now = func() time.Time { return now }
	ih := [20]byte{2}
	ps.AddPeer(ih, na("10.0.0.1:1"))
	now = now.Add(peerTTL / 2)
	ps.AddPeer(ih, na("10.0.0.2:2"))
	now = now.Add(peerTTL/2 + time.Second)
	got := ps.GetPeers(ih)
	if len(got) != 1 || got[0].Port != 2 {
		t.Errorf("after the first peer's TTL: %v, want only 10.0.0.2:2", got)
	}
	now = now.Add(peerTTL)
	if got := ps.GetPeers(ih); len(got) != 0 {
		t.Errorf("after every TTL: %v", got)
	}
	if torrents, _ := ps.size(); torrents != 0 {
		t.Errorf("an empty torrent stays: %d torrents", torrents)
	}
}
