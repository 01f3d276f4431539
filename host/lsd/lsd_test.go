package lsd

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// testGroup is BEP 14's group on a free port of this host, so tests never
// meet real clients, and HostOnly keeps the announces on this host.
func testGroup(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return netip.AddrPortFrom(netip.MustParseAddr("239.192.152.143"), uint16(port)).String()
}

func start(t *testing.T, group string, ih [20]byte, port int) <-chan netip.AddrPort {
	t.Helper()
	return startCfg(t, Config{InfoHash: ih, Port: port, Group: group, HostOnly: true, Every: 200 * time.Millisecond})
}

func startCfg(t *testing.T, cfg Config) <-chan netip.AddrPort {
	t.Helper()
	ch := make(chan netip.AddrPort, 16)
	s, err := Start(cfg,
		func(a []netip.AddrPort) {
			for _, x := range a {
				select {
				case ch <- x:
				default:
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return ch
}

func TestTwoServicesFindEachOther(t *testing.T) {
	group := testGroup(t)
	ih := [20]byte{1, 2, 3}
	other := [20]byte{9}
	a := start(t, group, ih, 40001)
	b := start(t, group, ih, 40002)
	c := start(t, group, other, 40003)
	want := func(ch <-chan netip.AddrPort, port uint16) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case got := <-ch:
				switch got.Port() {
				case port:
					return
				case 40003:
					t.Fatalf("reported a peer of another torrent: %v", got)
				}
				// Our own announce never comes back: the cookie.
				t.Fatalf("unexpected peer %v", got)
			case <-deadline:
				t.Fatalf("no announce from port %d", port)
			}
		}
	}
	want(a, 40002)
	want(b, 40001)
	// c's torrent is announced by nobody else: within several of the
	// others' announce rounds it hears nothing for itself.
	select {
	case got := <-c:
		t.Fatalf("service of another torrent reported %v", got)
	case <-time.After(time.Second):
	}
}

// A service that joins after another's first announce hears its second,
// which comes Again after the first, not Every.
func TestSecondAnnounceSoonAfterFirst(t *testing.T) {
	group := testGroup(t)
	ih := [20]byte{4, 5, 6}
	startCfg(t, Config{InfoHash: ih, Port: 40011, Group: group, HostOnly: true, Every: time.Hour, Again: 300 * time.Millisecond})
	late := startCfg(t, Config{InfoHash: ih, Port: 40012, Group: group, HostOnly: true, Every: time.Hour, Again: time.Hour})
	select {
	case got := <-late:
		if got.Port() != 40011 {
			t.Fatalf("unexpected peer %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the late service heard no second announce")
	}
}

func TestLibtorrentAnnounceParses(t *testing.T) {
	// As libtorrent 2.0 writes it (lsd.cpp): lower-case cookie, the
	// hash in hex, an empty line and one more CRLF.
	raw := "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n" +
		"Infohash: 0102030000000000000000000000000000000000\r\ncookie: 5a3c\r\n\r\n\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Port != 6881 || len(m.InfoHashes) != 1 || m.InfoHashes[0] != [20]byte{1, 2, 3} || m.Cookie != "5a3c" {
		t.Fatalf("parsed %+v", m)
	}
}

func TestBadAnnounces(t *testing.T) {
	for _, raw := range []string{
		"",
		"GET / HTTP/1.1\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nInfohash: 0102030000000000000000000000000000000000\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: 0102030000000000000000000000000000000000\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 70000\r\nInfohash: 0102030000000000000000000000000000000000\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: 01020300\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz02030000000000000000000000000000000000\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort 1\r\n\r\n",
	} {
		if m, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%q parsed as %+v", raw, m)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(Msg{Port: 6881, InfoHashes: [][20]byte{{1}, {2}}, Cookie: "ab"}.Marshal(Group)))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		// What parses survives a round trip.
		m2, err := Parse(m.Marshal(Group))
		if err != nil {
			t.Fatalf("re-parse of %+v: %v", m, err)
		}
		if m2.Port != m.Port || len(m2.InfoHashes) != len(m.InfoHashes) {
			t.Fatalf("round trip %+v -> %+v", m, m2)
		}
	})
}
