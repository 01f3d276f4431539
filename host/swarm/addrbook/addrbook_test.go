package addrbook

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestAddRemembersEverySource(t *testing.T) {
	t.Parallel()
	b := New(10)
	if n := b.Add(Tracker, ap("10.0.0.1:1"), ap("10.0.0.2:2"), netip.AddrPort{}, ap("10.0.0.3:0")); n != 2 {
		t.Fatalf("Add took %d new addresses, want 2 (invalid and port 0 ignored)", n)
	}
	if n := b.Add(User, ap("10.0.0.1:1")); n != 0 {
		t.Fatalf("Add of a known address counted %d new", n)
	}
	if got := b.Sources(ap("10.0.0.1:1")); got != User|Tracker || got.String() != "user+tracker" {
		t.Errorf("sources %v, want user+tracker", got)
	}
	// An IPv4-mapped form is the same address.
	b.Add(Tracker, ap("[::ffff:10.0.0.2]:2"))
	if b.Len() != 2 {
		t.Errorf("Len %d, want 2", b.Len())
	}
}

func TestDialRespectsCapsAndMarksDialing(t *testing.T) {
	t.Parallel()
	b := New(3)
	b.Add(Tracker, ap("10.0.0.1:1"), ap("10.0.0.2:1"), ap("10.0.0.3:1"), ap("10.0.0.4:1"))
	b.Add(User, ap("10.0.0.9:1"))
	got := b.Dial(t0, 100, false)
	if len(got) != 3 || got[0] != ap("10.0.0.9:1") {
		t.Fatalf("dialled %v, want 3 addresses, the user's first", got)
	}
	// Dials in flight count against maxPeers: nothing more now.
	if more := b.Dial(t0, 100, false); len(more) != 0 {
		t.Fatalf("dialled %v with every slot taken by dials in flight", more)
	}
	b.Connected(got[0], true)
	b.DialFailed(got[1], t0)
	b.Refused(got[2])
	// One peer connected, two slots; the socket limit allows one.
	next := b.Dial(t0, 1, false)
	if len(next) != 1 || slices.Contains(got[:2], next[0]) {
		t.Fatalf("dialled %v, want one address other than the connected and the failed one", next)
	}
}

func TestBackoffAndGivingUp(t *testing.T) {
	t.Parallel()
	b := New(10)
	tr, user := ap("10.0.0.1:1"), ap("10.0.0.2:1")
	b.Add(Tracker, tr)
	b.Add(User, user)
	now := t0
	for i := range maxFailures {
		d := b.Dial(now, 10, false)
		if len(d) != 2 {
			t.Fatalf("round %d: dialled %v, want both", i, d)
		}
		if again := b.Dial(now.Add(time.Second), 10, false); len(again) != 0 {
			t.Fatalf("round %d: redialled %v within the backoff", i, again)
		}
		b.DialFailed(tr, now)
		b.DialFailed(user, now)
		if early := b.Dial(now.Add(time.Duration(1<<(i+1))*baseBackoff-time.Millisecond), 10, false); len(early) != 0 {
			t.Fatalf("round %d: dialled %v before the backoff of %d failures ended", i, early, i+1)
		}
		now = now.Add(time.Duration(1<<(i+1)) * baseBackoff)
	}
	// The tracker's address is given up, the user's is not.
	if d := b.Dial(now.Add(time.Hour), 10, false); len(d) != 1 || d[0] != user {
		t.Fatalf("after %d failures dialled %v, want only the user's address", maxFailures, d)
	}
}

// A peer that connects and then breaks the protocol backs off like one
// whose dials fail, although each connection succeeded; the tracker's is
// given up after maxFailures such ends, the user's never is. A peer that
// left for any other reason may come back at once.
func TestFaultsBackOff(t *testing.T) {
	t.Parallel()
	b := New(10)
	tr, user, good := ap("10.0.0.1:1"), ap("10.0.0.2:1"), ap("10.0.0.3:1")
	b.Add(Tracker, tr, good)
	b.Add(User, user)
	now := t0
	for i := range maxFailures {
		if d := b.Dial(now, 10, false); len(d) != 3 {
			t.Fatalf("round %d: dialled %v, want all three", i, d)
		}
		for _, a := range []netip.AddrPort{tr, user, good} {
			b.Connected(a, true)
		}
		b.Disconnected(tr, LeftFault, now)
		b.Disconnected(user, LeftFault, now)
		b.Disconnected(good, LeftOK, now)
		back := time.Duration(1<<(i+1)) * baseBackoff
		if early := b.Dial(now.Add(back-time.Millisecond), 10, false); len(early) != 1 || early[0] != good {
			t.Fatalf("round %d: dialled %v before the backoff of %d faults ended, want only the good peer", i, early, i+1)
		}
		b.Connected(good, true)
		b.Disconnected(good, LeftOK, now)
		now = now.Add(back)
	}
	d := b.Dial(now.Add(time.Hour), 10, false)
	slices.SortFunc(d, netip.AddrPort.Compare)
	if want := []netip.AddrPort{user, good}; !slices.Equal(d, want) {
		t.Fatalf("after %d faults dialled %v, want %v", maxFailures, d, want)
	}
}

func TestSeedDialsOnlyUserLeechers(t *testing.T) {
	t.Parallel()
	b := New(10)
	tr, u1, u2 := ap("10.0.0.1:1"), ap("10.0.0.2:1"), ap("10.0.0.3:1")
	b.Add(Tracker, tr)
	b.Add(User, u1, u2)
	for _, a := range b.Dial(t0, 10, false) {
		b.Connected(a, true)
	}
	b.Disconnected(u1, LeftComplete, t0) // both complete
	b.Disconnected(u2, LeftOK, t0)
	b.Disconnected(tr, LeftOK, t0)
	if d := b.Dial(t0.Add(time.Minute), 10, true); len(d) != 1 || d[0] != u2 {
		t.Fatalf("a seed dialled %v, want only %v", d, u2)
	}
}

func TestIncomingNeverDialledAndForgotten(t *testing.T) {
	t.Parallel()
	b := New(2)
	in := ap("10.0.0.5:50000")
	b.Connected(in, false)
	if b.Sources(in) != Incoming || b.Len() != 0 {
		t.Fatalf("incoming: sources %v, Len %d", b.Sources(in), b.Len())
	}
	b.Add(Tracker, ap("10.0.0.1:1"), ap("10.0.0.2:1"))
	// The incoming peer takes one of the two peer slots.
	if d := b.Dial(t0, 10, false); len(d) != 1 || d[0] == in {
		t.Fatalf("dialled %v, want one tracker address", d)
	}
	b.Disconnected(in, LeftOK, t0)
	if b.Sources(in) != 0 {
		t.Fatalf("incoming address kept after it left: %v", b.Sources(in))
	}
	if d := b.Dial(t0, 10, false); len(d) != 1 || d[0] == in {
		t.Fatalf("dialled %v after the incoming peer left, want the other tracker address", d)
	}
}

func TestBansRefuseDials(t *testing.T) {
	t.Parallel()
	b := New(10)
	b.Add(Tracker, ap("10.0.0.1:1"), ap("10.0.0.1:2"), ap("10.0.0.2:1"))
	if !b.Ban(netip.MustParseAddr("::ffff:10.0.0.1")) || b.Ban(netip.MustParseAddr("10.0.0.1")) {
		t.Fatal("Ban did not report the first ban only")
	}
	if !b.Banned(netip.MustParseAddr("10.0.0.1")) || b.Banned(netip.MustParseAddr("10.0.0.2")) {
		t.Fatal("Banned is wrong")
	}
	if d := b.Dial(t0, 10, false); len(d) != 1 || d[0] != ap("10.0.0.2:1") {
		t.Fatalf("dialled %v, want only the unbanned address", d)
	}
}

// A peer left because neither side wanted anything of the other is not
// dialled again until UnusedWait has passed; its next connection ending
// normally brings the usual quick redial back.
func TestUnusedWaits(t *testing.T) {
	t.Parallel()
	b := New(10)
	idle := ap("10.0.0.1:1")
	b.Add(Tracker, idle)
	b.Dial(t0, 10, false)
	b.Connected(idle, true)
	b.Disconnected(idle, LeftUnused, t0)
	if d := b.Dial(t0.Add(UnusedWait-time.Second), 10, false); len(d) != 0 {
		t.Fatalf("dialled %v before UnusedWait", d)
	}
	later := t0.Add(UnusedWait)
	if d := b.Dial(later, 10, false); len(d) != 1 {
		t.Fatalf("dialled %v after UnusedWait, want the peer", d)
	}
	b.Connected(idle, true)
	b.Disconnected(idle, LeftOK, later)
	if d := b.Dial(later.Add(baseBackoff), 10, false); len(d) != 1 {
		t.Fatalf("dialled %v %v after a normal end, want the peer", d, baseBackoff)
	}
}
