package dht

import (
	"bytes"
	"net"

	"github.com/anacrolix/torrent/bencode"
	"golang.org/x/time/rate"
)

// answered are the queries the node answers (BEP 5); any other is dropped
// unanswered, BEP 44's get and put among them (the library's store for
// them has no cap).
var answered = map[string]bool{"ping": true, "find_node": true, "get_peers": true, "announce_peer": true}

// gate is the node's socket as the library reads it: queries beyond the
// query rate, and queries of any other name than answered, never reach the
// library. It does per-query work before its own rate limit (it counts
// each query name it sees in a process-wide expvar map, which a flood of
// made-up names would grow without end), so the filter must come first.
type gate struct {
	net.PacketConn
	queries *rate.Limiter
}

func (g gate) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		if err != nil || g.pass(b[:n]) {
			return n, addr, err
		}
	}
}

// pass says whether the library may see packet p: replies and anything it
// cannot parse (the library counts and drops those itself) always, a query
// only if answered and within the rate.
func (g gate) pass(p []byte) bool {
	var m struct {
		Y string `bencode:"y"`
		Q string `bencode:"q"`
	}
	// Decode reads one value and ignores what trails it, as the library does.
	if bencode.NewDecoder(bytes.NewReader(p)).Decode(&m) != nil || m.Y != "q" {
		return true
	}
	return answered[m.Q] && g.queries.Allow()
}
