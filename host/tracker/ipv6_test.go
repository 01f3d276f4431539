package tracker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// listenV6 is a loopback IPv6 listener; the test fails if ::1 does not work.
func listenV6(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("IPv6 loopback: %v", err)
	}
	return l
}

// v6Peers are two peers in BEP 15's 18-byte form. Read as IPv4 (6-byte)
// entries, the same 36 bytes would be six peers, all wrong.
var v6Peers = []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::1]:6881"), netip.MustParseAddrPort("[::1]:51413")}

func compactV6(peers []netip.AddrPort) []byte {
	var b []byte
	for _, p := range peers {
		a := p.Addr().As16()
		b = append(b, a[:]...)
		b = append(b, byte(p.Port()>>8), byte(p.Port()))
	}
	return b
}

// A UDP tracker reached over IPv6 answers with 18-byte peers (BEP 15).
func TestUDPTrackerOverIPv6(t *testing.T) {
	t.Parallel()
	listenV6(t).Close()
	u := startUDPTracker(t, "[::1]:0", func([]byte) []byte { return udpReply(compactV6(v6Peers)) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Announce(ctx, u, Request{InfoHash: [20]byte{1}, PeerID: [20]byte{2}, Port: 1, Event: Started, NumWant: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmtPeers(r.Peers), fmtPeers(v6Peers); got != want || r.Complete != 5 || r.Incomplete != 3 {
		t.Fatalf("peers %s (%d seeders, %d leechers), want %s (5, 3)", got, r.Complete, r.Incomplete, want)
	}
}

// An HTTP tracker on [::1] that sends both peers and peers6 (BEP 7).
func TestHTTPTrackerPeers6(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p6 := compactV6(v6Peers)
		w.Write([]byte("d8:intervali60e5:peers6:\x7f\x00\x00\x01\x1a\xe16:peers6" + itoa(len(p6)) + ":" + string(p6) + "e"))
	}))
	srv.Listener = listenV6(t)
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Announce(ctx, srv.URL+"/announce", Request{InfoHash: [20]byte{1}, PeerID: [20]byte{2}, Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:6881")}, v6Peers...)
	if got := fmtPeers(r.Peers); got != fmtPeers(want) {
		t.Fatalf("peers %s, want %s", got, fmtPeers(want))
	}
}
