// Package dht is the client's BitTorrent DHT node (BEP 5), built on
// github.com/anacrolix/dht/v2: it finds peers for a torrent with get_peers,
// announces us with announce_peer, answers other nodes' queries within a
// bounded rate and memory, and keeps its routing table in a file so a
// restart bootstraps without the routers.
package dht

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	adht "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"
)

// DefaultBootstrap are the well-known public routers, for real use. Tests
// pass loopback nodes: nothing here defaults to them.
var DefaultBootstrap = []string{
	"router.bittorrent.com:6881",
	"router.utorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"dht.libtorrent.org:25401",
}

// Defaults of Config's rates and intervals.
const (
	// DefaultQueryRate is how many queries from other nodes we answer per
	// second (burst: a second's worth), each IP at most a fifth of it (see
	// gate); the rest are dropped unanswered.
	// libtorrent's default dht_upload_rate_limit, 8000 B/s, is about as many
	// replies.
	DefaultQueryRate = 50
	// sendRate caps every packet we send, replies and our own queries: the
	// library's default, but per node rather than shared by the process.
	sendRate, sendBurst = 250, 25
	defaultSaveEvery    = 5 * time.Minute
	bootstrapRetry      = 30 * time.Second
	// maxPings bounds the pings in flight for nodes learnt from peers' Port
	// messages; more are dropped (a peer may send Port at any rate).
	maxPings = 8
)

// Config configures a Node.
type Config struct {
	// Addr is the UDP address to listen on, "IP:PORT"; customarily the
	// BitTorrent listener's port.
	Addr string
	// Conn, if set, is the socket to use instead of listening on Addr; the
	// node owns it from New on, and closes it even if New fails.
	Conn net.PacketConn
	// Bootstrap are HOST:PORT nodes to start from when the routing table is
	// empty; DefaultBootstrap for real use. Nil means none.
	Bootstrap []string
	// StateFile keeps the node ID and routing table (in the working
	// directory); "" keeps nothing.
	StateFile string
	SaveEvery time.Duration // default 5 min
	QueryRate float64       // default DefaultQueryRate
	Logger    hclog.Logger
}

// Node is a running DHT node.
type Node struct {
	cfg     Config
	log     hclog.Logger
	conn    net.PacketConn
	srv     *adht.Server
	store   *peerStore
	closing chan struct{}
	wg      sync.WaitGroup
	pings   chan struct{} // semaphore of maxPings
	once    sync.Once

	mu       sync.Mutex
	starting []adht.Addr // resolved cfg.Bootstrap

	unresolved map[string]bool // bootstrap nodes warned of; maintain's own
}

// New listens on cfg.Addr, loads the routing table file (a bad file is
// logged and ignored), and starts bootstrapping in the background.
func New(cfg Config) (*Node, error) {
	if cfg.SaveEvery <= 0 {
		cfg.SaveEvery = defaultSaveEvery
	}
	if cfg.QueryRate <= 0 {
		cfg.QueryRate = DefaultQueryRate
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	for _, hp := range cfg.Bootstrap {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			if cfg.Conn != nil {
				cfg.Conn.Close()
			}
			return nil, fmt.Errorf("dht bootstrap node %q: %w", hp, err)
		}
	}
	n := &Node{cfg: cfg, log: cfg.Logger, store: newPeerStore(),
		closing: make(chan struct{}), pings: make(chan struct{}, maxPings), unresolved: make(map[string]bool)}
	saved := n.loadState()
	conn := cfg.Conn
	if conn == nil {
		var err error
		if conn, err = net.ListenPacket("udp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("dht: %w", err)
		}
	}
	n.conn = conn
	queries := rate.NewLimiter(rate.Limit(cfg.QueryRate), int(cfg.QueryRate)+1)
	scfg := adht.ServerConfig{
		NodeId:        saved.ID,
		Conn:          gate{conn, queries, newIPLimits(cfg.QueryRate)}, // the query rates and the queries answered
		NoSecurity:    true,                                            // as the library's default config: most of the DHT does not use BEP 42 IDs
		StartingNodes: n.startingNodes,
		PeerStore:     n.store,
		SendLimiter:   rate.NewLimiter(sendRate, sendBurst),
		DefaultWant:   []krpc.Want{krpc.WantNodes, krpc.WantNodes6},
		Logger:        anacrologger(n.log),
	}
	srv, err := adht.NewServer(&scfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	n.srv = srv
	added := 0
	for _, sn := range saved.Nodes {
		if sn.ID == ([20]byte{}) {
			continue // the library would ping it from a goroutine Close cannot wait for
		}
		if srv.AddNode(krpc.NodeInfo{ID: sn.ID, Addr: krpc.NodeAddr{IP: sn.Addr.Addr().AsSlice(), Port: int(sn.Addr.Port())}}) == nil {
			added++
		}
	}
	if len(saved.Nodes) > 0 {
		n.log.Debug("dht routing table loaded", "file", cfg.StateFile, "nodes", added)
	}
	n.wg.Add(2)
	go n.maintain()
	go n.saveLoop()
	return n, nil
}

// loadState reads the routing table file; a bad one is logged and ignored.
func (n *Node) loadState() nodesFile {
	if n.cfg.StateFile == "" {
		return nodesFile{}
	}
	f, err := readNodesFile(n.cfg.StateFile)
	if err != nil {
		n.log.Warn("dht routing table file ignored", "error", err)
		return nodesFile{}
	}
	return f
}

// Port is our DHT UDP port: what the BEP 5 Port message sends to peers.
func (n *Node) Port() int { return n.conn.LocalAddr().(*net.UDPAddr).Port }

// Addr is the UDP address the node listens on.
func (n *Node) Addr() netip.AddrPort { return n.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// ID is our node ID.
func (n *Node) ID() [20]byte { return n.srv.ID() }

// Nodes is the size of the routing table.
func (n *Node) Nodes() int { return n.srv.NumNodes() }

// AddNode pings a node a peer told us of with a Port message; it joins the
// routing table if it answers. Beyond maxPings pings in flight the address
// is dropped: a peer's Port message is a hint, not a duty.
func (n *Node) AddNode(addr netip.AddrPort) bool {
	if addr.Port() == 0 || addr.Addr().IsUnspecified() || !addr.Addr().IsValid() {
		return false
	}
	select {
	case <-n.closing:
		return false
	case n.pings <- struct{}{}:
	default:
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-n.pings }()
		res := n.srv.Ping(net.UDPAddrFromAddrPort(addr))
		n.log.Trace("dht ping from Port message", "node", addr, "error", res.Err)
	}()
	return true
}

// maintain fills an empty routing table from the bootstrap nodes, then
// hands over to the library's TableMaintainer (refreshes buckets, pings
// questionable nodes; returns on Close). The library's Bootstrap leaks a
// goroutine when it has no starting nodes, so it only runs once they are
// resolved, and TableMaintainer only once the table has nodes (the library
// never empties it again).
func (n *Node) maintain() {
	defer n.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.closing
		cancel()
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last time.Time
	for n.srv.NumNodes() == 0 {
		// Nodes may also arrive between tries, from peers' Port messages.
		if time.Since(last) >= bootstrapRetry {
			last = time.Now()
			addrs, err := n.resolveBootstrap(ctx)
			if err == nil {
				n.mu.Lock()
				n.starting = addrs
				n.mu.Unlock()
				_, err = n.srv.BootstrapContext(ctx)
			}
			if n.srv.NumNodes() == 0 {
				n.log.Debug("dht bootstrap found no nodes", "error", err)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	n.log.Debug("dht bootstrapped", "nodes", n.srv.NumNodes())
	n.srv.TableMaintainer()
}

// startingNodes are the library's nodes to start a traversal from when the
// routing table is empty: the bootstrap nodes maintain resolved.
func (n *Node) startingNodes() ([]adht.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.starting) == 0 {
		return nil, errors.New("no bootstrap node resolved yet")
	}
	return n.starting, nil
}

// resolveBootstrap resolves cfg.Bootstrap.
func (n *Node) resolveBootstrap(ctx context.Context) ([]adht.Addr, error) {
	if len(n.cfg.Bootstrap) == 0 {
		return nil, errors.New("no bootstrap nodes configured")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var addrs []adht.Addr
	for _, hp := range n.cfg.Bootstrap {
		host, port, _ := net.SplitHostPort(hp)
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			// A warning the first time, as the user may have mistyped it;
			// the retries every bootstrapRetry only at debug level.
			lvl := hclog.Debug
			if !n.unresolved[hp] {
				n.unresolved[hp] = true
				lvl = hclog.Warn
			}
			n.log.Log(lvl, "dht bootstrap node not resolved", "node", hp, "error", err)
			continue
		}
		for _, ip := range ips {
			ua, err := net.ResolveUDPAddr("udp", net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil {
				addrs = append(addrs, adht.NewAddr(ua))
			}
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("no bootstrap node resolved")
	}
	return addrs, nil
}

func (n *Node) saveLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.SaveEvery)
	defer t.Stop()
	for {
		select {
		case <-n.closing:
			return
		case <-t.C:
			if err := n.save(); err != nil {
				n.log.Warn("dht routing table not saved", "error", err)
			}
		}
	}
}

// save writes the routing table file, if there is one to write.
func (n *Node) save() error {
	if n.cfg.StateFile == "" {
		return nil
	}
	f := nodesFile{ID: n.srv.ID()}
	for _, ni := range n.srv.Nodes() {
		ap, ok := nodeAddrPort(ni.Addr)
		if ok {
			f.Nodes = append(f.Nodes, savedNode{ID: ni.ID, Addr: ap})
		}
	}
	if err := writeNodesFile(n.cfg.StateFile, f); err != nil {
		return fmt.Errorf("dht routing table %s: %w", n.cfg.StateFile, err)
	}
	return nil
}

// Close stops every search, saves the routing table and closes the socket;
// every goroutine of the node has returned when it does.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		close(n.closing)
		err = n.save()
		n.srv.Close()
		n.conn.Close() // at once: the library closes it in a goroutine
		n.wg.Wait()
	})
	return err
}
