package tracker

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultServer is a scripted HTTP tracker: each handler misbehaves in one
// way, and every request is counted.
type faultServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func (s *faultServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// httpFaults are what a bad HTTP tracker sends, by path, and the short
// reason the status line shows for each.
var httpFaults = map[string]struct {
	handler http.HandlerFunc
	reason  string
}{
	"/garbage": {func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("\x00\x01\x02 binary rubbish \xff\xfe"))
	}, "not a bencoded reply"},
	"/html": {func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"))
	}, "not a bencoded reply"},
	"/html404": {func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html><body>Not here</body></html>"))
	}, "HTTP 404 Not Found"},
	"/hang": {func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the client gives up
	}, "timed out"},
	"/trickle": {func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("d8:intervali30e5:peers"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a reply that never ends
	}, "timed out"},
	"/oversized": {func(w http.ResponseWriter, r *http.Request) {
		big := strings.Repeat("\x7f\x00\x00\x01\x1a\xe1", (maxBody+6)/6+1)
		body := fmt.Sprintf("d8:intervali30e5:peers%d:%se", len(big), big)
		w.Header().Set("Content-Length", fmt.Sprint(len(body))) // refused before reading
		w.Write([]byte(body))
	}, ErrTooLarge.Error()},
	"/oversized-chunked": {func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range maxBody/len(chunk) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush() // no Content-Length: only the cap can stop it
		}
	}, ErrTooLarge.Error()},
	"/failure": {func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("d14:failure reason28:Requested download not founde"))
	}, "tracker: Requested download not found"},
	"/failure-escapes": {func(w http.ResponseWriter, r *http.Request) {
		reason := "\x1b[2J\x1b]0;pwned\x07" + strings.Repeat("long ", 40)
		fmt.Fprintf(w, "d14:failure reason%d:%se", len(reason), reason)
	}, "tracker: [2J ]0;pwned long long long long long long long long long long long long long l…"}, // 80 runes, no escapes
	"/close": {func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close() // hang up without a word
	}, "connection closed by the tracker"},
}

func startFaultServer(t *testing.T) *faultServer {
	s := &faultServer{hits: make(map[string]int)}
	mux := http.NewServeMux()
	for path, f := range httpFaults {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.hits[path]++
			s.mu.Unlock()
			f.handler(w, r)
		})
	}
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// refusedURL is an address where nothing listens.
func refusedURL(t *testing.T, scheme string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return scheme + "://" + addr + "/announce"
}

// Each fault is an error whose short reason names it, and none of them
// carries the query string (info_hash, peer_id, a passkey) to the UI.
func TestHTTPTrackerFaults(t *testing.T) {
	t.Parallel()
	srv := startFaultServer(t)
	cases := map[string]string{"refused": "connection refused"}
	for path, f := range httpFaults {
		cases[path] = f.reason
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := srv.URL + name + "?passkey=secret"
			if name == "refused" {
				u = refusedURL(t, "http")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := Announce(ctx, u, Request{InfoHash: [20]byte{1}, PeerID: [20]byte{2}, Port: 1, Event: Started})
			if err == nil {
				t.Fatal("no error")
			}
			if got := Reason(err); got != want {
				t.Fatalf("reason %q, want %q (error: %v)", got, want, err)
			}
			if strings.Contains(Reason(err), "passkey") || strings.Contains(Reason(err), "info_hash") {
				t.Fatalf("reason %q leaks the query", Reason(err))
			}
		})
	}
}

// udpFault is a scripted BEP 15 tracker: it answers connect, and announce
// with whatever announce returns (nil: no answer at all).
func startUDPTracker(t *testing.T, addr string, announce func(req []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("listen udp %s: %v", addr, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := buf[:n]
			if n < 16 {
				continue
			}
			var reply []byte
			switch binary.BigEndian.Uint32(req[8:]) {
			case actConnect:
				reply = binary.BigEndian.AppendUint32(nil, actConnect)
				reply = append(reply, req[12:16]...)
				reply = binary.BigEndian.AppendUint64(reply, 0xc0ffee)
			case actAnnounce:
				if reply = announce(req); reply == nil {
					continue
				}
				if len(reply) >= 8 {
					copy(reply[4:8], req[12:16]) // the transaction id
				}
			}
			pc.WriteTo(reply, from)
		}
	}()
	return "udp://" + pc.LocalAddr().String()
}

// udpReply is an announce reply header with the given peer bytes.
func udpReply(peers []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, actAnnounce)
	b = append(b, 0, 0, 0, 0) // transaction id, filled in by startUDPTracker
	b = binary.BigEndian.AppendUint32(b, 1800)
	b = binary.BigEndian.AppendUint32(b, 3) // leechers
	b = binary.BigEndian.AppendUint32(b, 5) // seeders
	return append(b, peers...)
}

func TestUDPTrackerFaults(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		announce func([]byte) []byte
		want     string
	}{
		"silent": {func([]byte) []byte { return nil }, "timed out"},
		"error": {func([]byte) []byte {
			return append(binary.BigEndian.AppendUint32(nil, actError), append([]byte{0, 0, 0, 0}, "torrent not registered"...)...)
		}, "tracker: torrent not registered"},
		"odd peers":    {func([]byte) []byte { return udpReply([]byte{127, 0, 0, 1, 0x1a}) }, "malformed reply"},
		"short header": {func([]byte) []byte { return udpReply(nil)[:12] }, "tracker: refused: announce reply of 12 bytes"},
		"wrong action": {func([]byte) []byte { return append(binary.BigEndian.AppendUint32(nil, 7), 0, 0, 0, 0) }, "malformed reply"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := startUDPTracker(t, "127.0.0.1:0", tc.announce)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := Announce(ctx, u, Request{InfoHash: [20]byte{1}, PeerID: [20]byte{2}, Port: 1, Event: Started})
			if got := Reason(err); got != tc.want {
				t.Fatalf("reason %q, want %q (error: %v)", got, tc.want, err)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u := "udp://" + pc.LocalAddr().String()
		pc.Close() // the kernel answers with ICMP port unreachable
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = Announce(ctx, u, Request{InfoHash: [20]byte{1}, PeerID: [20]byte{2}, Port: 1, Event: Started})
		if got := Reason(err); got != "connection refused" {
			t.Fatalf("reason %q, want connection refused (error: %v)", got, err)
		}
	})
}
