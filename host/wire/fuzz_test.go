package wire

import (
	"bytes"
	"net/netip"
	"reflect"
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

// A handshake that parses has a port and reqq in range, and re-encodes to
// one that parses the same.
func FuzzExtHandshake(f *testing.F) {
	f.Add(ExtHandshake{M: map[string]int{"ut_pex": 1}, V: "x", Reqq: 5}.Marshal())
	f.Add([]byte("d1:md6:ut_pexi1ee1:pi6881ee"))
	f.Add([]byte("d1:md11:ut_metadatai3ee13:metadata_sizei31235e6:yourip4:\x7f\x00\x00\x011:v5:lt 2.e"))
	f.Add([]byte("d1:pi-1ee"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseExtHandshake(in) // must not panic
		if err != nil {
			return
		}
		if h.Reqq < 0 || h.Port < 0 || h.Port > 65535 {
			t.Fatalf("accepted reqq %d, port %d", h.Reqq, h.Port)
		}
		back, err := ParseExtHandshake(h.Marshal())
		if err != nil {
			t.Fatalf("re-encoded %q: %v", h.Marshal(), err)
		}
		if !reflect.DeepEqual(normalExt(h), normalExt(back)) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, h)
		}
	})
}

// A ut_metadata message that decodes re-encodes to one that decodes the
// same, and never claims more than the limits.
func FuzzMetadataMsg(f *testing.F) {
	f.Add(AppendMetadataMsg(nil, MetadataMsg{Type: MetadataRequest, Piece: 2}))
	f.Add(AppendMetadataMsg(nil, MetadataMsg{Type: MetadataData, Piece: 0, TotalSize: 5, Data: []byte("d1:xe")}))
	f.Add([]byte("d8:msg_typei2e5:piecei9ee"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseMetadataMsg(in)
		if err != nil {
			return
		}
		if len(m.Data) > MetadataPieceSize || m.TotalSize > MaxMetadataSize || m.Piece >= MaxMetadataPieces {
			t.Fatalf("accepted %v piece %d of %d bytes, total %d", m.Type, m.Piece, len(m.Data), m.TotalSize)
		}
		again, err := ParseMetadataMsg(AppendMetadataMsg(nil, m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-encoding %+v gave %+v, %v", m, again, err)
		}
	})
}

// A ut_pex message that decodes re-encodes canonically: encoding what the
// re-encoding decodes to gives the same bytes, with no peer lost.
func FuzzPEXMsg(f *testing.F) {
	f.Add(AppendPEXMsg(nil, PEXMsg{Added: []PEXPeer{{netip.MustParseAddrPort("1.2.3.4:5"), PEXSeed}},
		Dropped: []netip.AddrPort{netip.MustParseAddrPort("[::1]:7")}}))
	f.Add([]byte("d5:added6:\x01\x02\x03\x04\x00\x01e"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParsePEXMsg(in)
		if err != nil {
			return
		}
		enc := AppendPEXMsg(nil, m)
		again, err := ParsePEXMsg(enc)
		if err != nil {
			t.Fatalf("re-encoding of %+v does not decode: %v", m, err)
		}
		if len(again.Added) != len(m.Added) || len(again.Dropped) != len(m.Dropped) {
			t.Fatalf("peers lost: %+v became %+v", m, again)
		}
		if re := AppendPEXMsg(nil, again); string(re) != string(enc) {
			t.Fatalf("encoding not canonical:\n%q\n%q", enc, re)
		}
	})
}

// normalExt gives empty fields one form: Marshal leaves them out, so nil
// and empty come back alike.
func normalExt(h ExtHandshake) ExtHandshake {
	if len(h.M) == 0 {
		h.M = nil
	}
	if len(h.YourIP) == 0 {
		h.YourIP = nil
	}
	return h
}
