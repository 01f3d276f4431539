package dht

import (
	"expvar"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"
)

// krpcClient is a scripted remote node: it sends whatever queries a test
// writes, from its own UDP socket.
type krpcClient struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
	id   krpc.ID
}

func newKRPCClient(t *testing.T, ip string, to netip.AddrPort) *krpcClient {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(ip+":0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &krpcClient{t: t, conn: conn, to: net.UDPAddrFromAddrPort(to), id: krpc.RandomNodeID()}
}

func (c *krpcClient) send(tid, q string, a krpc.MsgArgs) {
	a.ID = c.id
	b, err := bencode.Marshal(krpc.Msg{T: tid, Y: "q", Q: q, A: &a})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.WriteToUDP(b, c.to); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next reply, or false after wait without one. The
// node's own queries to this address (it adds a node that queried it to
// its table, and may query it back, with a transaction ID that can equal
// one of ours) are not replies and are skipped.
func (c *krpcClient) read(wait time.Duration) (krpc.Msg, bool) {
	buf := make([]byte, 65536)
	c.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		n, _, err := c.conn.ReadFromUDP(buf)
		if err != nil {
			return krpc.Msg{}, false
		}
		var m krpc.Msg
		if bencode.Unmarshal(buf[:n], &m) == nil && m.Y != "q" {
			return m, true
		}
	}
}

// query sends one query and waits for its reply, resending a few times
// (the node may be rate limiting).
func (c *krpcClient) query(q string, a krpc.MsgArgs) krpc.Msg {
	for try := range 20 {
		tid := "x" + strconv.Itoa(try)
		c.send(tid, q, a)
		for {
			m, ok := c.read(500 * time.Millisecond)
			if !ok {
				break
			}
			if m.T == tid {
				return m
			}
		}
	}
	c.t.Fatalf("no reply to %s", q)
	return krpc.Msg{}
}

// TestQueryFloodAnsweredAtBoundedRate: a node floods us with pings; we
// answer at most QueryRate a second (plus the burst), and still answer
// once the flood is over.
func TestQueryFloodAnsweredAtBoundedRate(t *testing.T) {
	const qrate = 5
	n := newNode(t, Config{Addr: "127.0.0.2:0", QueryRate: qrate})
	c := newKRPCClient(t, "127.0.0.5", n.Addr())
	start := time.Now()
	const flood = 2000
	for i := range flood {
		c.send("f"+strconv.Itoa(i), "ping", krpc.MsgArgs{})
	}
	replies := 0
	for {
		if _, ok := c.read(time.Second); !ok {
			break
		}
		replies++
	}
	elapsed := time.Since(start).Seconds()
	// The limiter cannot allow more than its burst plus rate × time, on any
	// machine; the library's send limit alone would allow 25 + 250/s.
	if bound := float64(qrate+1) + qrate*elapsed; float64(replies) > bound {
		t.Errorf("%d replies to %d pings in %.1f s: more than %.0f", replies, flood, elapsed, bound)
	}
	if replies == 0 {
		t.Error("no ping answered at all")
	}
	t.Logf("%d pings, %d answered in %.1f s", flood, replies, elapsed)
	if m := c.query("ping", krpc.MsgArgs{}); m.R == nil {
		t.Errorf("after the flood a ping got %+v", m)
	}
}

// TestAnnounceFloodKeepsPeerStoreCapped: a node with a valid token
// announces thousands of ports and info-hashes; the store stays within its
// caps and get_peers replies stay within maxPeersPerReply.
func TestAnnounceFloodKeepsPeerStoreCapped(t *testing.T) {
	n := newNode(t, Config{Addr: "127.0.0.2:0", QueryRate: 1e6})
	c := newKRPCClient(t, "127.0.0.5", n.Addr())
	busy := krpc.ID{0xbb}
	r := c.query("get_peers", krpc.MsgArgs{InfoHash: busy})
	if r.R == nil || r.R.Token == nil {
		t.Fatalf("get_peers reply has no token: %+v", r)
	}
	token := *r.R.Token
	announce := func(tid string, ih krpc.ID, port int) {
		c.send(tid, "announce_peer", krpc.MsgArgs{InfoHash: ih, Token: token, Port: &port})
	}
	for i := range 3 * maxPeersPerTorrent {
		announce("p"+strconv.Itoa(i), busy, 1000+i)
		if i%50 == 0 {
			drain(c) // keep our socket's buffer from dropping replies we don't read
		}
	}
	for i := range 2 * maxTorrents {
		announce("t"+strconv.Itoa(i), krpc.ID{byte(i), byte(i >> 8), 0xcc}, 7000)
		if i%50 == 0 {
			drain(c)
		}
	}
	drain(c)
	// Announces are stored asynchronously; the caps hold at every moment.
	var torrents, peers int
	for range 20 {
		torrents, peers = n.store.size()
		if torrents == maxTorrents {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if torrents != maxTorrents || peers > maxTorrents*maxPeersPerTorrent {
		t.Errorf("store holds %d torrents and %d peers; caps %d torrents", torrents, peers, maxTorrents)
	}
	r = c.query("get_peers", krpc.MsgArgs{InfoHash: busy})
	if r.R == nil || len(r.R.Values) == 0 || len(r.R.Values) > maxPeersPerReply {
		t.Fatalf("get_peers for the flooded torrent: %+v", r.R)
	}
	t.Logf("store after the flood: %d torrents, %d peers; reply of %d peers", torrents, peers, len(r.R.Values))
}

func drain(c *krpcClient) {
	for {
		if _, ok := c.read(20 * time.Millisecond); !ok {
			return
		}
	}
}

// TestBEP44QueriesDropped: get and put (BEP 44 storage) are not answered:
// the library's store for them has no cap. Pings sent after them are
// answered; no reply for get or put comes before or with them.
func TestBEP44QueriesDropped(t *testing.T) {
	n := newNode(t, Config{Addr: "127.0.0.2:0"})
	c := newKRPCClient(t, "127.0.0.5", n.Addr())
	seq := int64(1)
	c.send("g", "get", krpc.MsgArgs{Target: krpc.ID{1}, Want: []krpc.Want{krpc.WantNodes}})
	c.send("p", "put", krpc.MsgArgs{V: "x", Seq: &seq, Token: "t"})
	for i := range 5 {
		c.send("i"+strconv.Itoa(i), "ping", krpc.MsgArgs{})
	}
	pings := 0
	for pings < 5 {
		m, ok := c.read(10 * time.Second)
		if !ok {
			t.Fatalf("%d of 5 pings answered", pings)
		}
		if m.T == "g" || m.T == "p" {
			t.Fatalf("BEP 44 %q answered: %+v", m.T, m)
		}
		pings++
	}
}

// TestMadeUpQueryNamesDropped: a node sends thousands of queries, each
// with a name of its own. They are dropped unanswered before the library
// sees them: it would keep a counter for each name seen, in a
// process-wide expvar map, for the life of the process. A ping after them
// is still answered.
func TestMadeUpQueryNamesDropped(t *testing.T) {
	n := newNode(t, Config{Addr: "127.0.0.2:0", QueryRate: 1e6})
	c := newKRPCClient(t, "127.0.0.5", n.Addr())
	const names = 3000
	for i := range names {
		c.send("m"+strconv.Itoa(i), "made_up_"+strconv.Itoa(i), krpc.MsgArgs{})
		if i%100 == 0 {
			drain(c)
		}
	}
	if m := c.query("ping", krpc.MsgArgs{}); m.R == nil {
		t.Fatalf("a ping after the made-up queries got %+v", m)
	}
	counted := 0
	expvar.Get("dht").(*expvar.Map).Do(func(kv expvar.KeyValue) {
		if strings.Contains(kv.Key, "made_up_") {
			counted++
		}
	})
	if counted > 0 {
		t.Errorf("the library keeps a counter for %d of %d made-up query names", counted, names)
	}
}

// TestQueryFloodFromOneIPLeavesRoomForOthers: one address floods pings at
// about 500 a second, ten times the node's whole query rate; another
// address's pings, one every 200 ms, are still answered, as the flooder
// gets only its per-IP share of the rate.
func TestQueryFloodFromOneIPLeavesRoomForOthers(t *testing.T) {
	n := newNode(t, Config{Addr: "127.0.0.2:0"})
	flooder := newKRPCClient(t, "127.0.0.5", n.Addr())
	other := newKRPCClient(t, "127.0.0.6", n.Addr())
	stop := make(chan struct{})
	flooded := make(chan int)
	go func() {
		sent := 0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				flooded <- sent
				return
			case <-tick.C:
			}
			for range 5 {
				flooder.send("f"+strconv.Itoa(sent), "ping", krpc.MsgArgs{})
				sent++
			}
		}
	}()
	const pings = 15
	answered := 0
	for i := range pings {
		tid := "o" + strconv.Itoa(i)
		other.send(tid, "ping", krpc.MsgArgs{})
		deadline := time.Now().Add(200 * time.Millisecond)
		for {
			m, ok := other.read(time.Until(deadline))
			if !ok {
				break
			}
			if m.T == tid && m.R != nil {
				answered++
				time.Sleep(time.Until(deadline))
				break
			}
		}
	}
	close(stop)
	sent := <-flooded
	replies := 0
	for {
		if _, ok := flooder.read(500 * time.Millisecond); !ok {
			break
		}
		replies++
	}
	t.Logf("flooder: %d pings, %d answered; other: %d of %d answered", sent, replies, answered, pings)
	if answered < pings-2 {
		t.Errorf("only %d of %d pings from another address answered during the flood", answered, pings)
	}
	if replies > sent/5 {
		t.Errorf("the flooder got %d answers to %d pings", replies, sent)
	}
}

// TestPerIPLimitsBounded: queries from ever new addresses (a spoofed
// flood) keep at most maxTrackedIPs limiters; idle ones are pruned, so new
// addresses are tracked again once the flood is over.
func TestPerIPLimitsBounded(t *testing.T) {
	l := newIPLimits(DefaultQueryRate)
	now := time.Now()
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range 3 * maxTrackedIPs {
		l.allow(ip(i), now)
	}
	if len(l.ips) != maxTrackedIPs {
		t.Fatalf("%d limiters after %d addresses, cap %d", len(l.ips), 3*maxTrackedIPs, maxTrackedIPs)
	}
	// A minute later every bucket is full again: the next new address
	// prunes them all.
	later := now.Add(time.Minute)
	l.allow(ip(3*maxTrackedIPs), later)
	if len(l.ips) != 1 {
		t.Errorf("%d limiters after the idle ones were pruned, want 1", len(l.ips))
	}
	// A tracked address over its share is refused.
	hot := netip.MustParseAddr("10.9.9.9")
	allowed := 0
	for range 10 * l.burst {
		if l.allow(hot, later) {
			allowed++
		}
	}
	if allowed != l.burst {
		t.Errorf("%d queries allowed in one instant, burst %d", allowed, l.burst)
	}
}
