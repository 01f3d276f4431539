// Package pex keeps the per-connection state of peer exchange (BEP 11):
// what we have told a peer, so each minute's message carries only the
// difference, and how often the peer has written to us, so a peer that
// floods ut_pex is caught. It does no I/O.
package pex

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
)

// Limits, after BEP 11 and libtorrent 2.0 (src/ut_pex.cpp).
const (
	// Interval is the least time between two messages to one peer.
	Interval = time.Minute
	// MaxAdded and MaxDropped cap one message we send (BEP 11's 50;
	// libtorrent allows itself 100 added).
	MaxAdded   = 50
	MaxDropped = 50
	// MaxTaken is how many added peers we take from one message: the
	// rest of a long list waits for the peer's next one.
	MaxTaken = 50
	// floodWindow, floodCount: a seventh message within a minute is a
	// flood, libtorrent's rule (it remembers the last six, so a slow
	// link that delivers queued messages at once is not punished).
	floodWindow = time.Minute
	floodCount  = 6
)

// State is one connection's PEX state; the torrent's loop owns it.
type State struct {
	told     map[netip.AddrPort]bool // what the peer has from us
	lastSent time.Time
	received []time.Time // arrival of the peer's last floodCount messages
}

// Message returns the ut_pex message due to the peer at self (which is
// never listed to itself), given the peers we are connected to now (by
// their listening addresses, with flags). ok is false when the last
// message was under a minute ago or nothing changed. Caps leave the rest
// for the next message; the choice is by address order, so it is stable.
func (s *State) Message(now time.Time, self netip.AddrPort, current map[netip.AddrPort]wire.PEXFlags) (m wire.PEXMsg, ok bool) {
	if !s.lastSent.IsZero() && now.Sub(s.lastSent) < Interval {
		return m, false
	}
	if s.told == nil {
		s.told = map[netip.AddrPort]bool{}
	}
	for _, ap := range sorted(current) {
		if len(m.Added) == MaxAdded {
			break
		}
		if ap != self && !s.told[ap] {
			m.Added = append(m.Added, wire.PEXPeer{Addr: ap, Flags: current[ap]})
			s.told[ap] = true
		}
	}
	for _, ap := range sorted(s.told) {
		if len(m.Dropped) == MaxDropped {
			break
		}
		if _, still := current[ap]; !still {
			m.Dropped = append(m.Dropped, ap)
			delete(s.told, ap)
		}
	}
	if len(m.Added) == 0 && len(m.Dropped) == 0 {
		return m, false
	}
	s.lastSent = now
	return m, true
}

func sorted[V any](m map[netip.AddrPort]V) []netip.AddrPort {
	keys := make([]netip.AddrPort, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, netip.AddrPort.Compare)
	return keys
}

// Received takes a message from the peer and returns the added peers
// worth dialling: no port 0, no unspecified or multicast address, at most
// MaxTaken. It is an error, and the caller should disconnect, when the
// peer sends more often than libtorrent tolerates.
func (s *State) Received(now time.Time, m wire.PEXMsg) ([]wire.PEXPeer, error) {
	if len(s.received) == floodCount && now.Sub(s.received[0]) < floodWindow {
		return nil, fmt.Errorf("ut_pex: %d messages within %v", floodCount+1, floodWindow)
	}
	if len(s.received) == floodCount {
		s.received = s.received[1:]
	}
	s.received = append(s.received, now)
	var out []wire.PEXPeer
	for _, p := range m.Added {
		if len(out) == MaxTaken {
			break
		}
		a := p.Addr.Addr()
		if p.Addr.Port() == 0 || a.IsUnspecified() || a.IsMulticast() {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
