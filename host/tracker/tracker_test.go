package tracker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/testtracker"
)

func TestParseHTTPResponse(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		body    string
		peers   string
		wantErr string
	}{
		"compact":      {"d8:intervali1800e12:min intervali60e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x50e", "[127.0.0.1:6881 10.0.0.2:80]", ""},
		"dict":         {"d8:intervali30e5:peersld2:ip9:127.0.0.14:porti6881eed2:ip3:bad4:porti1eeee", "[127.0.0.1:6881]", ""},
		"peers6":       {"d8:intervali30e6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e", "[[::1]:6881]", ""},
		"no peers":     {"d8:intervali30ee", "[]", ""},
		"failure2":     {"d14:failure reason9:not founde", "", "not found"},
		"truncated":    {"d8:intervali30e5:peers5:\x7f\x00\x00\x01\x1ae", "", "multiple of 6"},
		"garbage":      {"<html>", "", "not a bencoded reply"},
		"broken dict":  {"d8:intervali30e5:peers", "", "malformed reply"},
		"bad interval": {"d8:intervali-5ee", "", "interval"},
		"peers int":    {"d5:peersi5ee", "", "neither"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseHTTPResponse([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmtPeers(r.Peers); got != tc.peers {
				t.Fatalf("peers %s, want %s", got, tc.peers)
			}
		})
	}
}

func fmtPeers(p []netip.AddrPort) string {
	s := make([]string, len(p))
	for i, a := range p {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestHTTPQuery(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.RawQuery
		w.Write([]byte("d8:intervali60e5:peers0:e"))
	}))
	defer srv.Close()
	req := Request{InfoHash: [20]byte{0xff, ' ', 'a', '+', '~'}, PeerID: [20]byte{'-'}, Port: 6881, Left: 5, Event: Started, NumWant: 10}
	r, err := Announce(context.Background(), srv.URL+"/announce?passkey=x", req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Interval != time.Minute {
		t.Fatalf("interval %v", r.Interval)
	}
	for _, want := range []string{"passkey=x&", "info_hash=%FF%20a%2B~%00", "port=6881", "left=5", "event=started", "compact=1", "numwant=10"} {
		if !strings.Contains(got, want) {
			t.Errorf("query %q lacks %q", got, want)
		}
	}
}

// Against the real opentracker, over HTTP and UDP: a second peer learns of
// the first, and an unlisted torrent is refused.
func TestOpentracker(t *testing.T) {
	t.Parallel()
	ih := [20]byte{1, 2, 3}
	tr := testtracker.Start(t, ih)
	for name, url := range map[string]string{"http": tr.HTTP, "udp": tr.UDP} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			port := 7000
			if name == "udp" {
				port = 7100
			}
			a := Request{InfoHash: ih, PeerID: [20]byte{'a', byte(port)}, Port: port, Left: 10, Event: Started, NumWant: 50}
			if _, err := Announce(ctx, url, a); err != nil {
				t.Fatal(err)
			}
			b := a
			b.PeerID, b.Port = [20]byte{'b', byte(port)}, port+1
			r, err := Announce(ctx, url, b)
			if err != nil {
				t.Fatal(err)
			}
			want := netip.MustParseAddrPort("127.0.0.1:" + itoa(port))
			found := false
			for _, p := range r.Peers {
				found = found || p == want
			}
			if !found || r.Interval <= 0 {
				t.Fatalf("reply %+v lacks %v", r, want)
			}
			_, err = Announce(ctx, url, Request{InfoHash: [20]byte{9}, PeerID: a.PeerID, Port: port, Event: Started})
			var f *FailureError
			if !errors.As(err, &f) {
				t.Fatalf("unlisted torrent: err = %v, want a FailureError", err)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestNextWait(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		st   Stats
		resp Response
		want time.Duration
	}{
		"slow download uses min interval": {Stats{Left: 1, DownRate: 10}, Response{Interval: 30 * time.Minute, MinInterval: time.Minute}, time.Minute},
		"fast download uses interval":     {Stats{Left: 1, DownRate: 1e6}, Response{Interval: 30 * time.Minute, MinInterval: time.Minute}, 30 * time.Minute},
		"seeding uses interval":           {Stats{Left: 0}, Response{Interval: 20 * time.Minute, MinInterval: time.Minute}, 20 * time.Minute},
		"no min interval":                 {Stats{Left: 1}, Response{Interval: 20 * time.Minute}, 5 * time.Minute},
		"never too often":                 {Stats{Left: 1}, Response{Interval: time.Second, MinInterval: time.Second}, minAnnounceGap},
		// The default -want-rate is 50 kB/s: "below" is strict.
		"just below want rate":       {Stats{Left: 1, DownRate: 49_999}, Response{Interval: 30 * time.Minute, MinInterval: time.Minute}, time.Minute},
		"at want rate":               {Stats{Left: 1, DownRate: 50_000}, Response{Interval: 30 * time.Minute, MinInterval: time.Minute}, 30 * time.Minute},
		"min interval over interval": {Stats{Left: 1}, Response{Interval: 2 * time.Minute, MinInterval: 5 * time.Minute}, 2 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := NewAnnouncer(Config{Stats: func() Stats { return tc.st }})
			if got := a.nextWait(&tc.resp); got != tc.want {
				t.Fatalf("nextWait = %v, want %v", got, tc.want)
			}
		})
	}
}

// Every byte outside RFC 3986's unreserved set is sent as %XX, and the
// result decodes back to the same bytes.
func TestEscapeBytes(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	got := escapeBytes(all)
	const unreserved = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
	var plain []byte
	for i := 0; i < len(got); i++ {
		if got[i] == '%' {
			i += 2
			continue
		}
		plain = append(plain, got[i])
	}
	if string(plain) != unreserved {
		t.Fatalf("left unescaped %q, want %q", plain, unreserved)
	}
	back, err := url.PathUnescape(got)
	if err != nil || back != string(all) {
		t.Fatalf("%q does not decode back: %v", got, err)
	}
}
