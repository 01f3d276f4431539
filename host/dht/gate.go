package dht

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"golang.org/x/time/rate"
)

// answered are the queries the node answers (BEP 5); any other is dropped
// unanswered, BEP 44's get and put among them (the library's store for
// them has no cap).
var answered = map[string]bool{"ping": true, "find_node": true, "get_peers": true, "announce_peer": true}

// gate is the node's socket as the library reads it: queries of any other
// name than answered, and queries beyond the rate (per IP, then in all),
// never reach the library. It does per-query work before its own rate limit (it counts
// each query name it sees in a process-wide expvar map, which a flood of
// made-up names would grow without end), so the filter must come first.
type gate struct {
	net.PacketConn
	queries *rate.Limiter
	perIP   *ipLimits
}

func (g gate) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		if err != nil || g.pass(b[:n], addr) {
			return n, addr, err
		}
	}
}

// pass says whether the library may see packet p: replies and anything it
// cannot parse (the library counts and drops those itself) always, a query
// only if answered and within the rate.
func (g gate) pass(p []byte, from net.Addr) bool {
	var m struct {
		Y string `bencode:"y"`
		Q string `bencode:"q"`
	}
	// Decode reads one value and ignores what trails it, as the library does.
	if bencode.NewDecoder(bytes.NewReader(p)).Decode(&m) != nil || m.Y != "q" {
		return true
	}
	if !answered[m.Q] {
		return false
	}
	if ua, ok := from.(*net.UDPAddr); ok && !g.perIP.allow(ua.AddrPort().Addr().Unmap(), time.Now()) {
		return false
	}
	return g.queries.Allow()
}

// Per-IP query limits: a fifth of the node's query rate each, so one
// flooding address cannot take the whole rate from the others (libtorrent
// has dht_block_ratelimit, 5 queries/s per IP, for the same reason).
// Limiters are kept for at most maxTrackedIPs addresses; idle ones (bucket
// full again) are pruned at most once a second when that is reached, and
// beyond it new addresses pass untracked, under the overall rate still.
const (
	perIPShare    = 5
	maxTrackedIPs = 4096
)

type ipLimits struct {
	mu     sync.Mutex
	rate   rate.Limit
	burst  int
	ips    map[netip.Addr]*rate.Limiter
	pruned time.Time
}

func newIPLimits(total float64) *ipLimits {
	r := total / perIPShare
	return &ipLimits{rate: rate.Limit(r), burst: 2*int(r) + 1, ips: make(map[netip.Addr]*rate.Limiter)}
}

func (l *ipLimits) allow(ip netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.ips[ip]
	if lim == nil {
		if len(l.ips) >= maxTrackedIPs {
			l.prune(now)
		}
		if len(l.ips) >= maxTrackedIPs {
			return true
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.ips[ip] = lim
	}
	return lim.AllowN(now, 1)
}

func (l *ipLimits) prune(now time.Time) {
	if now.Sub(l.pruned) < time.Second {
		return
	}
	l.pruned = now
	for ip, lim := range l.ips {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.ips, ip)
		}
	}
}
