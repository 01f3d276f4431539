// Package addrbook is the one place where a torrent's peer addresses
// arrive, whatever found them (the user, a tracker, an incoming
// connection, DHT, PEX, LSD, a magnet link's x.pe), and where the dial policy
// lives: which addresses to dial, in what order, how soon again after a
// failure, which IPs are banned and how many connections the caps allow.
//
// A Book belongs to one goroutine (the swarm's run loop), except for Ban
// and Banned, which the acceptor calls too.
package addrbook

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Source says where an address came from; an address found several ways
// has several bits.
type Source uint8

// Sources. A new one is a constant here and a Book.Add call where its
// addresses arrive.
const (
	// User addresses (-peer) are redialled forever, even by a seed: one
	// may be a leecher that cannot dial out.
	User Source = 1 << iota
	Tracker
	// Incoming addresses connected to us; their port is the peer's
	// outgoing one, so they are never dialled and are forgotten when the
	// connection ends.
	Incoming
	DHT    // BEP 5 get_peers
	PEX    // BEP 11 ut_pex from a connected peer
	LSD    // BEP 14 local service discovery
	Magnet // x.pe in the magnet link
	// WebSeed labels a BEP 19 web seed in peer lists; its URL is never
	// an address of the book.
	WebSeed
)

var sourceNames = []string{"user", "tracker", "incoming", "dht", "pex", "lsd", "magnet", "web"}

func (s Source) String() string {
	var names []string
	for i, n := range sourceNames {
		if s&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, "+")
}

// Dial policy.
const (
	// maxFailures is how many dials in a row may fail before an address
	// (not the user's) is given up.
	maxFailures = 5
	baseBackoff = 2 * time.Second
	maxBackoff  = 6 // doublings: at most 128 s between dials
)

// entry is what the book remembers of an address.
type entry struct {
	src       Source
	connected bool
	dialing   bool
	complete  bool // left because both sides had everything
	unused    bool // left because neither side wanted anything of the other
	failures  int  // dials in a row that gave no connection
	faults    int  // connections that ended in a protocol violation; never reset
	lastSeen  time.Time
}

// nextDial is when an address may be dialled again: soon for a peer that
// just left, backing off for one that keeps failing to connect or keeps
// breaking the protocol once connected.
func (e *entry) nextDial() time.Time {
	if e.lastSeen.IsZero() {
		return time.Time{}
	}
	back := time.Duration(1<<min(e.failures+e.faults, maxBackoff)) * baseBackoff
	if e.unused {
		back = max(back, UnusedWait)
	}
	return e.lastSeen.Add(back)
}

// UnusedWait is how long a peer left as unused waits to be dialled again:
// by then it may have pieces we lack, or we may want some of its.
const UnusedWait = 10 * time.Minute

// Book holds the addresses of one torrent.
type Book struct {
	maxPeers  int
	entries   map[netip.AddrPort]*entry
	connected int // entries connected
	dialing   int // entries being dialled

	mu   sync.RWMutex // guards bans: the acceptor reads them
	bans map[netip.Addr]bool
}

// New makes a book for a swarm of at most maxPeers established peers.
func New(maxPeers int) *Book {
	return &Book{maxPeers: maxPeers, entries: make(map[netip.AddrPort]*entry), bans: make(map[netip.Addr]bool)}
}

// Add records addresses found by src; it returns how many were new.
// Invalid addresses and port 0 are ignored.
func (b *Book) Add(src Source, addrs ...netip.AddrPort) int {
	n := 0
	for _, a := range addrs {
		if !a.IsValid() || a.Port() == 0 {
			continue
		}
		a = unmap(a)
		if e := b.entries[a]; e != nil {
			e.src |= src
			continue
		}
		b.entries[a] = &entry{src: src}
		n++
	}
	return n
}

// Len is how many dialable addresses the book knows.
func (b *Book) Len() int {
	n := 0
	for _, e := range b.entries {
		if e.src != Incoming {
			n++
		}
	}
	return n
}

// Sources says where a was found; 0 for an address the book lacks.
func (b *Book) Sources(a netip.AddrPort) Source {
	if e := b.entries[unmap(a)]; e != nil {
		return e.src
	}
	return 0
}

// Dial picks the addresses to dial now and marks them as being dialled.
// free is how many peer sockets the connection limits have left; dials in
// flight count against maxPeers too, so that slow dials do not pile up.
// A seed dials only the user's addresses of peers that were not complete.
// Order: the user's first, then by fewest failures.
func (b *Book) Dial(now time.Time, free int, seed bool) []netip.AddrPort {
	slots := min(b.maxPeers-b.connected-b.dialing, free)
	if slots <= 0 {
		return nil
	}
	var cands []netip.AddrPort
	for a, e := range b.entries {
		if b.dialable(a, e, now, seed) {
			cands = append(cands, a)
		}
	}
	slices.SortFunc(cands, func(x, y netip.AddrPort) int {
		ex, ey := b.entries[x], b.entries[y]
		if ux, uy := ex.src&User != 0, ey.src&User != 0; ux != uy {
			if ux {
				return -1
			}
			return 1
		}
		return ex.failures - ey.failures
	})
	cands = cands[:min(len(cands), slots)]
	for _, a := range cands {
		e := b.entries[a]
		e.dialing, e.lastSeen = true, now
		b.dialing++
	}
	return cands
}

func (b *Book) dialable(a netip.AddrPort, e *entry, now time.Time, seed bool) bool {
	user := e.src&User != 0
	switch {
	case e.src == Incoming:
		return false // its port is not one it listens on
	case e.connected || e.dialing || now.Before(e.nextDial()) || b.Banned(a.Addr()):
		return false
	case seed && (!user || e.complete):
		return false // a seed waits for leechers to come to it
	case !user && (e.failures >= maxFailures || e.faults >= maxFailures):
		return false
	}
	return true
}

// DialFailed records a dial that gave no connection.
func (b *Book) DialFailed(a netip.AddrPort, now time.Time) {
	if e := b.entries[unmap(a)]; e != nil {
		b.stopDialing(e)
		e.failures++
		e.lastSeen = now
	}
}

// Refused records a dial whose connection the swarm did not take (banned,
// already connected, too many peers); it may be dialled again later.
func (b *Book) Refused(a netip.AddrPort) {
	if e := b.entries[unmap(a)]; e != nil {
		b.stopDialing(e)
	}
}

func (b *Book) stopDialing(e *entry) {
	if e.dialing {
		e.dialing = false
		b.dialing--
	}
}

// Connected records an established peer at a: dialled by us (outgoing)
// or come to us.
func (b *Book) Connected(a netip.AddrPort, outgoing bool) {
	a = unmap(a)
	e := b.entries[a]
	if e == nil {
		src := Incoming
		if outgoing {
			src = Tracker // a dial of an address the book lost: keep it dialable
		}
		e = &entry{src: src}
		b.entries[a] = e
	}
	b.stopDialing(e)
	if !e.connected {
		e.connected = true
		b.connected++
	}
	e.failures = 0
}

// How a connection ended, for Disconnected.
const (
	LeftOK       = iota // for any reason but these
	LeftComplete        // both sides had everything: a seed need not dial it again
	LeftFault           // it broke the protocol: dial it again later and later
	LeftUnused          // neither side wanted anything of the other: dial it again after UnusedWait
)

// Disconnected records the end of a's connection and how it ended (Left*).
// A peer that connects only to break the protocol would otherwise be
// dialled again every few seconds, forever: its faults back it off like
// failed dials, and (unless the user named it) give it up.
func (b *Book) Disconnected(a netip.AddrPort, how int, now time.Time) {
	a = unmap(a)
	e := b.entries[a]
	if e == nil {
		return
	}
	if e.connected {
		e.connected = false
		b.connected--
	}
	if e.src == Incoming {
		delete(b.entries, a)
		return
	}
	e.lastSeen, e.complete, e.unused = now, how == LeftComplete, how == LeftUnused
	if how == LeftFault {
		e.faults++
	}
}

// Ban refuses ip for the rest of the session, both ways; it reports
// whether ip was not banned yet. Safe from any goroutine.
func (b *Book) Ban(ip netip.Addr) bool {
	ip = ip.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bans[ip] {
		return false
	}
	b.bans[ip] = true
	return true
}

// Banned says whether connections to or from ip are refused. Safe from
// any goroutine.
func (b *Book) Banned(ip netip.Addr) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.bans[ip.Unmap()]
}

func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
