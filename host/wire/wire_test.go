package wire

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"testing/iotest"
)

var allMessages = map[string]Message{
	"keep-alive":     KeepAlive{},
	"choke":          Choke{},
	"unchoke":        Unchoke{},
	"interested":     Interested{},
	"not interested": NotInterested{},
	"have":           Have{Index: 7},
	"bitfield":       Bitfield{Bits: []byte{0xff, 0x80}},
	"request":        Request{Index: 1, Begin: 16384, Length: 16384},
	"piece":          Piece{Index: 2, Begin: 32768, Data: []byte("block data")},
	"cancel":         Cancel{Index: 1, Begin: 0, Length: 16384},
	"port":           Port{Port: 6881},
	"suggest":        Suggest{Index: 9},
	"have all":       HaveAll{},
	"have none":      HaveNone{},
	"reject":         Reject{Index: 3, Begin: 0, Length: 100},
	"allowed fast":   AllowedFast{Index: 4},
	"extended":       Extended{ExtID: 0, Payload: []byte("d1:md6:ut_pexi1eee")},
	"unknown":        Unknown{MsgID: 99, Payload: []byte{1, 2, 3}},
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for name, m := range allMessages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			enc := AppendMessage(nil, m)
			for _, r := range map[string]io.Reader{
				"whole":    bytes.NewReader(enc),
				"one byte": iotest.OneByteReader(bytes.NewReader(enc)),
			} {
				got, err := NewReader(r, 1<<10).Next()
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				if v := deref(got); !reflect.DeepEqual(v, m) {
					t.Fatalf("got %#v, want %#v", v, m)
				}
			}
		})
	}
}

func TestStreamInRandomChunks(t *testing.T) {
	t.Parallel()
	var stream []byte
	var want []Message
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var m Message = Have{Index: uint32(i)}
		if i%3 == 0 {
			data := make([]byte, 1+rng.IntN(20000))
			m = Piece{Index: uint32(i), Begin: 0, Data: data}
		}
		stream = AppendMessage(stream, m)
		want = append(want, m)
	}
	r := NewReader(&chunkReader{b: stream, rng: rng}, 1<<15)
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(deref(got), w) {
			t.Fatalf("message %d differs", i)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the stream: %v, want EOF", err)
	}
}

type chunkReader struct {
	b   []byte
	rng *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rng.IntN(40000))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestBadMessages(t *testing.T) {
	t.Parallel()
	tests := map[string][]byte{
		"have too short":   {0, 0, 0, 4, 4, 0, 0, 0},
		"choke with body":  {0, 0, 0, 2, 0, 1},
		"request too long": append([]byte{0, 0, 0, 14, 6}, make([]byte, 13)...),
		"piece no header":  {0, 0, 0, 5, 7, 0, 0, 0, 1},
		"over the limit":   {0, 1, 0, 0, 7},
		"truncated":        {0, 0, 0, 5, 4, 0},
		"port short":       {0, 0, 0, 2, 9, 1},
		"extended no id":   {0, 0, 0, 1, 20},
		"truncated prefix": {0, 0},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if m, err := NewReader(bytes.NewReader(in), 1<<10).Next(); err == nil {
				t.Fatalf("decoded %#v from bad input", m)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	var stream []byte
	for range 100 {
		stream = AppendMessage(stream, Piece{Index: 1, Begin: 0, Data: make([]byte, 16384)})
		stream = AppendMessage(stream, Have{Index: 1})
	}
	br := bytes.NewReader(stream)
	r := NewReader(br, 1<<15)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(stream)
		r.start, r.end = 0, 0
		for range 200 {
			m, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if h, ok := m.(*Have); ok {
				buf = AppendMessage(buf[:0], *h)
			}
		}
		buf = AppendMessage(buf[:0], Request{1, 2, 3})
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per 200 messages, want 0", allocs)
	}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	var ih, id [20]byte
	ih[0], id[19] = 1, 2
	var b bytes.Buffer
	if err := WriteHandshake(&b, NewHandshake(ih, id)); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 68 {
		t.Fatalf("handshake of %d bytes", b.Len())
	}
	h, err := ReadHandshake(bytes.NewReader(b.Bytes()))
	if err != nil || h.InfoHash != ih || h.PeerID != id || !h.Fast() || !h.Extended() {
		t.Fatalf("got %+v, %v", h, err)
	}
	bad := append([]byte(nil), b.Bytes()...)
	bad[3] = 'X'
	if _, err := ReadHandshake(bytes.NewReader(bad)); err == nil {
		t.Fatal("accepted a wrong protocol string")
	}
	if _, err := ReadHandshake(bytes.NewReader(b.Bytes()[:40])); err == nil {
		t.Fatal("accepted a short handshake")
	}
}

func TestExtHandshake(t *testing.T) {
	t.Parallel()
	h := ExtHandshake{M: map[string]int{"ut_pex": 1}, V: "torrent 0.1", Reqq: 2048, Port: 6881}
	got, err := ParseExtHandshake(h.Marshal())
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"", "i1e", "d4:reqqi-1ee", "d1:md", "le"} {
		if _, err := ParseExtHandshake([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The vectors published in BEP 6.
func TestAllowedFastSet(t *testing.T) {
	t.Parallel()
	var ih [20]byte
	for i := range ih {
		ih[i] = 0xaa
	}
	ip := netip.MustParseAddr("80.4.4.200")
	if got, want := AllowedFastSet(ip, ih, 1313, 7), []uint32{1059, 431, 808, 1217, 287, 376, 1188}; !reflect.DeepEqual(got, want) {
		t.Errorf("k=7: %v, want %v", got, want)
	}
	if got, want := AllowedFastSet(ip, ih, 1313, 9), []uint32{1059, 431, 808, 1217, 287, 376, 1188, 353, 508}; !reflect.DeepEqual(got, want) {
		t.Errorf("k=9: %v, want %v", got, want)
	}
}

func TestClientName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"-qB4650-abcdefghijkl": "qBittorrent 4.6.5",
		"-TR3000-abcdefghijkl": "Transmission 3.0.0",
		"A2-1-36-0-abcdefghij": "aria2 1-36-0-",
		"xyzxyzxyzxyzxyzxyzxy": "unknown xyzxyzxy",
	}
	for in, want := range tests {
		var id [20]byte
		copy(id[:], in)
		if got := ClientName(id); got != want {
			t.Errorf("ClientName(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkReadPieces(b *testing.B) {
	var stream []byte
	for range 64 {
		stream = AppendMessage(stream, Piece{Index: 1, Data: make([]byte, 16384)})
	}
	br := bytes.NewReader(stream)
	r := NewReader(br, 1<<15)
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		br.Reset(stream)
		r.start, r.end = 0, 0
		for range 64 {
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
