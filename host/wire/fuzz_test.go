package wire

import (
	"bytes"
	"testing"
)

// Anything decoded re-encodes to the bytes it came from.
func FuzzReader(f *testing.F) {
	for _, m := range allMessages {
		f.Add(AppendMessage(nil, m))
	}
	f.Add([]byte{0, 0, 0, 5, 4, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 1<<12)
		var re []byte
		for {
			m, err := r.Next()
			if err != nil {
				break
			}
			re = AppendMessage(re, m)
		}
		if !bytes.HasPrefix(in, re) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", in, re)
		}
	})
}

func FuzzHandshake(f *testing.F) {
	var b bytes.Buffer
	WriteHandshake(&b, NewHandshake([20]byte{1}, [20]byte{2}))
	f.Add(b.Bytes())
	f.Add([]byte("\x13BitTorrent protocol"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ReadHandshake(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		WriteHandshake(&out, h)
		if !bytes.Equal(out.Bytes(), in[:68]) {
			t.Fatalf("handshake re-encodes differently")
		}
	})
}

func FuzzExtHandshake(f *testing.F) {
	f.Add(ExtHandshake{M: map[string]int{"ut_pex": 1}, V: "x", Reqq: 5}.Marshal())
	f.Add([]byte("d1:md6:ut_pexi1ee1:pi6881ee"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ParseExtHandshake(in) // must not panic
	})
}
