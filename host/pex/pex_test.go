package pex

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func pp(s string, f wire.PEXFlags) wire.PEXPeer { return wire.PEXPeer{Addr: ap(s), Flags: f} }

func peers(n int) map[netip.AddrPort]wire.PEXFlags {
	m := map[netip.AddrPort]wire.PEXFlags{}
	for i := range n {
		m[ap(fmt.Sprintf("10.0.%d.%d:6881", i/250, i%250+1))] = wire.PEXSeed
	}
	return m
}

func TestDiffs(t *testing.T) {
	t.Parallel()
	var s State
	t0 := time.Unix(1000, 0)
	self := ap("127.0.0.1:1")
	cur := map[netip.AddrPort]wire.PEXFlags{self: 0, ap("127.0.0.1:2"): wire.PEXSeed, ap("[::1]:3"): 0}
	m, ok := s.Message(t0, self, cur)
	want := wire.PEXMsg{Added: []wire.PEXPeer{pp("127.0.0.1:2", wire.PEXSeed), pp("[::1]:3", 0)}}
	if !ok || !reflect.DeepEqual(m, want) {
		t.Fatalf("first message %+v, %v; want %+v", m, ok, want)
	}
	// Within the minute nothing goes out, whatever changed.
	delete(cur, ap("[::1]:3"))
	cur[ap("127.0.0.1:4")] = 0
	if m, ok := s.Message(t0.Add(Interval-time.Second), self, cur); ok {
		t.Fatalf("sent %+v within a minute", m)
	}
	m, ok = s.Message(t0.Add(Interval), self, cur)
	want = wire.PEXMsg{Added: []wire.PEXPeer{pp("127.0.0.1:4", 0)}, Dropped: []netip.AddrPort{ap("[::1]:3")}}
	if !ok || !reflect.DeepEqual(m, want) {
		t.Fatalf("diff %+v, %v; want %+v", m, ok, want)
	}
	// No change: no message.
	if m, ok := s.Message(t0.Add(3*Interval), self, cur); ok {
		t.Fatalf("sent %+v with nothing new", m)
	}
}

// Of 120 peers, 50 go out per message; the rest follow a minute later,
// and 120 drops also go 50 at a time.
func TestCaps(t *testing.T) {
	t.Parallel()
	var s State
	now := time.Unix(0, 0)
	cur := peers(120)
	seen := map[netip.AddrPort]bool{}
	for _, n := range []int{50, 50, 20} {
		m, ok := s.Message(now, netip.AddrPort{}, cur)
		if !ok || len(m.Added) != n || len(m.Dropped) != 0 {
			t.Fatalf("got %d added, %d dropped, want %d added", len(m.Added), len(m.Dropped), n)
		}
		for _, p := range m.Added {
			if seen[p.Addr] {
				t.Fatalf("%v sent twice", p.Addr)
			}
			seen[p.Addr] = true
		}
		now = now.Add(Interval)
	}
	for _, n := range []int{50, 50, 20} {
		m, ok := s.Message(now, netip.AddrPort{}, nil)
		if !ok || len(m.Dropped) != n || len(m.Added) != 0 {
			t.Fatalf("got %d dropped, %d added, want %d dropped", len(m.Dropped), len(m.Added), n)
		}
		now = now.Add(Interval)
	}
}

func TestReceived(t *testing.T) {
	t.Parallel()
	var s State
	now := time.Unix(0, 0)
	m := wire.PEXMsg{Added: []wire.PEXPeer{pp("1.2.3.4:0", 0), pp("0.0.0.0:5", 0), pp("224.0.0.1:5", 0), pp("[::]:5", 0), pp("5.6.7.8:9", wire.PEXSeed)}}
	got, err := s.Received(now, m)
	if err != nil || !reflect.DeepEqual(got, []wire.PEXPeer{pp("5.6.7.8:9", wire.PEXSeed)}) {
		t.Fatalf("took %+v, %v", got, err)
	}
	var many wire.PEXMsg
	for p := range peers(80) {
		many.Added = append(many.Added, wire.PEXPeer{Addr: p})
	}
	if got, _ := s.Received(now.Add(10*time.Second), many); len(got) != MaxTaken {
		t.Fatalf("took %d of 80, want %d", len(got), MaxTaken)
	}
}

// Six messages within a minute pass (a slow link delivers queued ones
// together); a seventh is a flood. Spread out, any number pass.
func TestFlood(t *testing.T) {
	t.Parallel()
	var s State
	now := time.Unix(0, 0)
	for i := range 6 {
		if _, err := s.Received(now.Add(time.Duration(i)*time.Second), wire.PEXMsg{}); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	if _, err := s.Received(now.Add(6*time.Second), wire.PEXMsg{}); err == nil {
		t.Fatal("a seventh message within a minute is accepted")
	}
	var calm State
	for i := range 20 {
		if _, err := calm.Received(now.Add(time.Duration(i)*11*time.Second), wire.PEXMsg{}); err != nil {
			t.Fatalf("message %d, 11 s apart: %v", i+1, err)
		}
	}
}
