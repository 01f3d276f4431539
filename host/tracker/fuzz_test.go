package tracker

import "testing"

func FuzzParseHTTPResponse(f *testing.F) {
	f.Add([]byte("d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d8:intervali30e5:peersld2:ip9:127.0.0.14:porti6881eeee"))
	f.Add([]byte("d14:failure reason3:bade"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseHTTPResponse(b) // must not panic
	})
}

func FuzzParseUDPAnnounce(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2, 127, 0, 0, 1, 0x1a, 0xe1})
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3, 4, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseUDPAnnounce(b) // must not panic
	})
}
