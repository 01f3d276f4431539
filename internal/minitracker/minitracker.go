// Package minitracker is a tiny in-memory HTTP tracker (BEP 3, compact
// replies per BEP 23) for the demo swarm: it hands every announcing peer
// the others, and records each peer's events for tests of BEP 3's event
// rules. Tests of the tracker protocol use the real opentracker.
package minitracker

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// Tracker serves /announce on a loopback port until Close.
type Tracker struct {
	URL   string // the announce URL
	srv   *http.Server
	ln    net.Listener
	mu    sync.Mutex
	peers map[string]map[netip.AddrPort]bool // info-hash -> peers
	// events holds each peer's announce events in order ("" for a
	// regular announce).
	events map[netip.AddrPort][]string
}

// Start listens on 127.0.0.1 at a free port.
func Start() (*Tracker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Tracker{ln: ln, peers: make(map[string]map[netip.AddrPort]bool), events: make(map[netip.AddrPort][]string)}
	t.URL = "http://" + ln.Addr().String() + "/announce"
	mux := http.NewServeMux()
	mux.HandleFunc("/announce", t.announce)
	t.srv = &http.Server{Handler: mux}
	go t.srv.Serve(ln)
	return t, nil
}

// WaitPeers waits until n peers have announced, in any torrent, or ctx ends.
func (t *Tracker) WaitPeers(ctx context.Context, n int) error {
	for {
		t.mu.Lock()
		have := 0
		for _, s := range t.peers {
			have += len(s)
		}
		t.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Events are the events the peer at addr announced, in order, without
// the regular announces, which carry none.
func (t *Tracker) Events(addr netip.AddrPort) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, e := range t.events[addr] {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Close stops serving.
func (t *Tracker) Close() error { return t.srv.Close() }

func (t *Tracker) announce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ih := q.Get("info_hash")
	port, err := strconv.Atoi(q.Get("port"))
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ip, ierr := netip.ParseAddr(host)
	if len(ih) != 20 || err != nil || port <= 0 || port > 65535 || ierr != nil {
		reply(w, map[string]any{"failure reason": "bad announce"})
		return
	}
	self := netip.AddrPortFrom(ip.Unmap(), uint16(port))
	t.mu.Lock()
	swarm := t.peers[ih]
	if swarm == nil {
		swarm = make(map[netip.AddrPort]bool)
		t.peers[ih] = swarm
	}
	var compact []byte
	for p := range swarm {
		if p != self && p.Addr().Is4() {
			compact = append(compact, p.Addr().AsSlice()...)
			compact = append(compact, byte(p.Port()>>8), byte(p.Port()))
		}
	}
	t.events[self] = append(t.events[self], q.Get("event"))
	if q.Get("event") == "stopped" {
		delete(swarm, self)
	} else {
		swarm[self] = true
	}
	t.mu.Unlock()
	reply(w, map[string]any{"interval": 30, "min interval": 5, "peers": string(compact)})
}

func reply(w http.ResponseWriter, v map[string]any) {
	b, err := bencode.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(b)
}
