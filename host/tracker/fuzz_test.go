package tracker

import "testing"

func FuzzParseHTTPResponse(f *testing.F) {
	f.Add([]byte("d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d8:intervali30e5:peersld2:ip9:127.0.0.14:porti6881eeee"))
	f.Add([]byte("d14:failure reason3:bade"))
	f.Add([]byte("d8:intervali30e6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("<html><body>502 Bad Gateway</body></html>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseHTTPResponse(b) // must not panic
		if err == nil && r == nil {
			t.Fatal("nil reply without an error")
		}
		_ = Reason(err) // nor may naming the error
	})
}

func FuzzParseUDPAnnounce(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 127, 0, 0, 1, 0x1a, 0xe1})
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3, 4, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseUDPAnnounce(b, 4) // must not panic
	})
}

// The reply of a tracker reached over IPv6: 18-byte peers (BEP 15).
func FuzzParseUDPAnnounce6(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1})
	f.Add([]byte{0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 127, 0, 0, 1, 0x1a, 0xe1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseUDPAnnounce(b, 16) // must not panic
		if err == nil {
			for _, p := range r.Peers {
				if !p.IsValid() || p.Port() == 0 {
					t.Fatalf("invalid peer %v", p)
				}
			}
		}
	})
}
