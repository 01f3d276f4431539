package tracker

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// checkResponse holds for every reply we accept: intervals within the
// bounds the announcer trusts, and only peers we could dial.
func checkResponse(t *testing.T, r *Response) {
	t.Helper()
	if r.Interval < 0 || r.Interval > 1e6*time.Second || r.MinInterval < 0 || r.MinInterval > 1e6*time.Second {
		t.Fatalf("interval %v, min interval %v out of bounds", r.Interval, r.MinInterval)
	}
	for _, p := range r.Peers {
		if !p.IsValid() || p.Port() == 0 || p.Addr().Is4In6() {
			t.Fatalf("peer %v: invalid, port 0 or an IPv4-mapped address", p)
		}
	}
}

// compact is BEP 23/7's form of the peers whose address has ipLen bytes.
func compact(peers []netip.AddrPort, ipLen int) []byte {
	var b []byte
	for _, p := range peers {
		if a := p.Addr().AsSlice(); len(a) == ipLen {
			b = binary.BigEndian.AppendUint16(append(b, a...), p.Port())
		}
	}
	return b
}

// sortedPeers is p in order, nil when empty: the order and an empty list's
// form are not part of a reply's meaning.
func sortedPeers(p []netip.AddrPort) []netip.AddrPort {
	if len(p) == 0 {
		return nil
	}
	p = slices.Clone(p)
	slices.SortFunc(p, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return p
}

// Whatever parses re-encodes, compact, to a reply that parses the same
// (peers in any order: a list of dictionaries comes back compact).
func FuzzParseHTTPResponse(f *testing.F) {
	f.Add([]byte("d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d8:intervali30e5:peersld2:ip9:127.0.0.14:porti6881eeee"))
	f.Add([]byte("d8:intervali30e5:peersld2:ip3:::14:porti6881eed2:ip2:no4:porti1eeee"))
	f.Add([]byte("d14:failure reason3:bade"))
	f.Add([]byte("d8:intervali30e12:min intervali5e10:tracker id2:id15:warning message1:w8:completei3e10:incompletei4e6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("<html><body>502 Bad Gateway</body></html>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseHTTPResponse(b) // must not panic
		if err != nil {
			if r != nil || Reason(err) == "" {
				t.Fatalf("error %v with reply %v, or without a reason", err, r)
			}
			return
		}
		if r == nil {
			t.Fatal("nil reply without an error")
		}
		checkResponse(t, r)
		re, err := bencode.Marshal(map[string]any{
			"interval": int64(r.Interval / time.Second), "min interval": int64(r.MinInterval / time.Second),
			"tracker id": r.TrackerID, "warning message": r.Warning,
			"complete": r.Complete, "incomplete": r.Incomplete,
			"peers": compact(r.Peers, 4), "peers6": compact(r.Peers, 16),
		})
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseHTTPResponse(re)
		if err != nil {
			t.Fatalf("re-encoded reply %q: %v", re, err)
		}
		r.Peers, back.Peers = sortedPeers(r.Peers), sortedPeers(back.Peers)
		if !reflect.DeepEqual(r, back) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, r)
		}
	})
}

// udpAnnounceReply is a BEP 15 announce reply carrying r.
func udpAnnounceReply(tid [4]byte, r *Response, ipLen int) []byte {
	b := binary.BigEndian.AppendUint32(nil, actAnnounce)
	b = append(b, tid[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(r.Interval/time.Second))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Incomplete))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Complete))
	if ipLen == 4 {
		return append(b, compact(r.Peers, 4)...)
	}
	// Over IPv6 every peer takes 18 bytes: the parser reads an IPv4-mapped
	// address as the IPv4 peer it names, so it goes back mapped.
	for _, p := range r.Peers {
		a := p.Addr().As16()
		b = binary.BigEndian.AppendUint16(append(b, a[:]...), p.Port())
	}
	return b
}

// fuzzUDPAnnounce: what parses holds the invariants and re-encodes to a
// reply that parses the same.
func fuzzUDPAnnounce(t *testing.T, b []byte, ipLen int) {
	r, err := parseUDPAnnounce(b, ipLen) // must not panic
	if err != nil {
		if r != nil || Reason(err) == "" {
			t.Fatalf("error %v with reply %v, or without a reason", err, r)
		}
		return
	}
	checkResponse(t, r)
	if ipLen == 4 && len(r.Peers) > (len(b)-20)/6 {
		t.Fatalf("%d peers from %d bytes", len(r.Peers), len(b))
	}
	back, err := parseUDPAnnounce(udpAnnounceReply([4]byte(b[4:8]), r, ipLen), ipLen)
	if err != nil {
		t.Fatalf("re-encoded reply: %v", err)
	}
	if !reflect.DeepEqual(r, back) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, r)
	}
}

func FuzzParseUDPAnnounce(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 127, 0, 0, 1, 0x1a, 0xe1})
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3, 4, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) { fuzzUDPAnnounce(t, b, 4) })
}

// The reply of a tracker reached over IPv6: 18-byte peers (BEP 15).
func FuzzParseUDPAnnounce6(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1})
	f.Add([]byte{0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 127, 0, 0, 1, 0x1a, 0xe1})
	f.Fuzz(func(t *testing.T, b []byte) { fuzzUDPAnnounce(t, b, 16) })
}

// Matching UDP replies to a request (BEP 15): a datagram without our
// transaction id is ignored, whatever it says; ours with the action asked
// is taken, as a copy; an error action is the tracker's failure; any other
// action is a bad reply, never taken as the one asked. A connect reply
// taken has its 16 bytes; an announce reply taken parses or fails with a
// reason.
func FuzzMatchUDPReply(f *testing.F) {
	tid := [4]byte{9, 8, 7, 6}
	f.Add([]byte{0, 0, 0, 0, 9, 8, 7, 6, 1, 2, 3, 4, 5, 6, 7, 8}, tid[:], uint32(actConnect))
	f.Add([]byte{0, 0, 0, 1, 9, 8, 7, 6, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 127, 0, 0, 1, 0x1a, 0xe1}, tid[:], uint32(actAnnounce))
	f.Add([]byte{0, 0, 0, 3, 9, 8, 7, 6, 'n', 'o'}, tid[:], uint32(actAnnounce))
	f.Add([]byte{0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 7, 8}, tid[:], uint32(actAnnounce))
	f.Add([]byte{0, 0, 0, 0, 9, 8, 7}, tid[:], uint32(actConnect))
	f.Add([]byte{0, 0, 0, 1, 9, 8, 7, 6}, tid[:], uint32(actConnect))
	f.Fuzz(func(t *testing.T, r, tidb []byte, action uint32) {
		if len(tidb) != 4 {
			return
		}
		tid := [4]byte(tidb)
		action %= 2 // we only ever ask connect or announce
		in := slices.Clone(r)
		reply, ours, err := matchUDPReply(r, tid, action)
		if !slices.Equal(r, in) {
			t.Fatal("the datagram was changed")
		}
		if mine := len(r) >= 8 && [4]byte(r[4:8]) == tid; ours != mine {
			t.Fatalf("ours = %v for a datagram of %d bytes, tid match %v", ours, len(r), mine)
		}
		if !ours {
			if reply != nil || err != nil {
				t.Fatalf("an ignored datagram gave %x, %v", reply, err)
			}
			return
		}
		got := binary.BigEndian.Uint32(r)
		var fe *FailureError
		switch {
		case got == action:
			if err != nil || !slices.Equal(reply, r) || (len(r) > 0 && &reply[0] == &r[0]) {
				t.Fatalf("our reply not taken as a copy: %x, %v", reply, err)
			}
		case got == actError:
			if reply != nil || !errors.As(err, &fe) || fe.Reason != string(r[8:]) {
				t.Fatalf("error reply: %x, %v", reply, err)
			}
			return
		default:
			if reply != nil || !errors.Is(err, ErrBadReply) {
				t.Fatalf("action %d asked %d: %x, %v", got, action, reply, err)
			}
			return
		}
		switch action {
		case actConnect:
			id, err := parseUDPConnect(reply)
			if (err == nil) != (len(reply) >= 16) || (err == nil && id != binary.BigEndian.Uint64(reply[8:16])) {
				t.Fatalf("connect reply of %d bytes: id %x, %v", len(reply), id, err)
			}
		case actAnnounce:
			fuzzUDPAnnounce(t, reply, 4)
		}
	})
}
