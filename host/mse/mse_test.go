package mse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testHash  = [20]byte{1, 2, 3, 4, 5}
	otherHash = [20]byte{9, 9, 9}
	// Fixed keys make a handshake reproducible: the fuzz targets build
	// the other side's bytes ahead of time.
	keysA = keysFrom(new(big.Int).SetBytes([]byte("initiator private k.")))
	keysB = keysFrom(new(big.Int).SetBytes([]byte("receiver private key")))
)

func pad(n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n)}).Read(p)
	return p
}

// loopback is a connected TCP pair: unlike net.Pipe, both sides may write
// before the other reads, as on a real network.
func loopback(t *testing.T) (a, b net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	for _, c := range []net.Conn{a, b} {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		t.Cleanup(func() { c.Close() })
	}
	return a, b
}

// tap records what a connection reads off the wire.
type tap struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	t.got.Write(p[:n])
	t.mu.Unlock()
	return n, err
}

type side struct {
	res Result
	err error
}

// handshake runs both sides at once over loopback.
func handshake(t *testing.T, provide Method, ia []byte, pa, pb params, lookup Lookup) (a, b side, wire *tap) {
	t.Helper()
	ca, cb := loopback(t)
	wire = &tap{Conn: cb}
	done := make(chan side)
	go func() {
		r, err := accept(wire, lookup, pb)
		if err != nil {
			cb.Close() // as a caller would: the initiator sees the failure
		}
		done <- side{r, err}
	}()
	a.res, a.err = initiate(ca, testHash, provide, ia, pa)
	if a.err != nil {
		ca.Close()
	}
	return a, <-done, wire
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		provide Method
		ia      []byte
		pa, pb  params
		want    Method
	}{
		"both offered, plain chosen": {provide: Plaintext | RC4, ia: []byte("\x13BitTorrent protocol..."), want: Plaintext},
		"rc4 only":                   {provide: RC4, ia: []byte("hi"), want: RC4},
		"plaintext only":             {provide: Plaintext, ia: []byte("hello"), want: Plaintext},
		"no initial payload":         {provide: RC4, want: RC4},
		"largest initial payload":    {provide: Plaintext, ia: pad(0xffff), want: Plaintext},
		"largest padding": {provide: RC4, ia: []byte("x"), want: RC4,
			pa: params{pad: pad(maxPad), pad2: pad(maxPad)}, pb: params{pad: pad(maxPad), pad2: pad(maxPad)}},
		"some padding": {provide: Plaintext, want: Plaintext,
			pa: params{pad: pad(7), pad2: pad(300)}, pb: params{pad: pad(200), pad2: pad(1)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.pa.keys, tc.pb.keys = keysA, keysB
			a, b, wire := handshake(t, tc.provide, tc.ia, tc.pa, tc.pb, InfoHashes(otherHash, testHash))
			if a.err != nil || b.err != nil {
				t.Fatalf("initiator: %v, receiver: %v", a.err, b.err)
			}
			if a.res.Method != tc.want || b.res.Method != tc.want {
				t.Fatalf("methods %v and %v, want %v", a.res.Method, b.res.Method, tc.want)
			}
			if b.res.InfoHash != testHash {
				t.Fatalf("receiver got info-hash %x", b.res.InfoHash)
			}
			// IA comes first on the receiver's stream, then the rest.
			exchange(t, a.res.Conn, b.res.Conn, tc.ia)
			if tc.want == RC4 && bytes.Contains(wire.got.Bytes(), []byte("payload from A")) {
				t.Fatal("rc4 stream carried plaintext")
			}
			if tc.want == Plaintext && !bytes.Contains(wire.got.Bytes(), []byte("payload from A")) {
				t.Fatal("plaintext stream is not plain")
			}
		})
	}
}

// exchange sends payloads both ways at once and checks them.
func exchange(t *testing.T, a, b net.Conn, ia []byte) {
	t.Helper()
	fromA := append([]byte("payload from A:"), pad(200_000)...)
	fromB := append([]byte("payload from B:"), pad(150_000)...)
	keepA := bytes.Clone(fromA)
	errs := make(chan error, 2)
	go func() { _, err := a.Write(fromA); errs <- err }()
	go func() { _, err := writeSplit(b, fromB); errs <- err }()
	gotB := make([]byte, len(ia)+len(fromA))
	if _, err := io.ReadFull(b, gotB); err != nil {
		t.Fatal(err)
	}
	gotA := make([]byte, len(fromB))
	if _, err := io.ReadFull(a, gotA); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(gotB, append(bytes.Clone(ia), fromA...)) || !bytes.Equal(gotA, fromB) {
		t.Fatal("payload differs after the round trip")
	}
	if !bytes.Equal(fromA, keepA) {
		t.Fatal("Write changed the caller's buffer")
	}
}

// writeSplit sends p as many uneven buffers, through WriteBuffers when c
// has it, the way the swarm sends message headers and blocks.
func writeSplit(c net.Conn, p []byte) (int64, error) {
	var bufs net.Buffers
	for i := 0; len(p) > 0; i++ {
		n := min(len(p), []int{13, 16 << 10, 1, 70_000}[i%4])
		bufs, p = append(bufs, p[:n]), p[n:]
	}
	if bw, ok := c.(interface {
		WriteBuffers(*net.Buffers) (int64, error)
	}); ok {
		return bw.WriteBuffers(&bufs)
	}
	return bufs.WriteTo(c)
}

func TestExportedRoundTrip(t *testing.T) {
	t.Parallel()
	ca, cb := loopback(t)
	done := make(chan side)
	go func() {
		r, err := Accept(cb, InfoHashes(testHash))
		done <- side{r, err}
	}()
	ra, err := Initiate(ca, testHash, Plaintext|RC4, []byte("ia"))
	rb := <-done
	if err != nil || rb.err != nil {
		t.Fatalf("initiator: %v, receiver: %v", err, rb.err)
	}
	exchange(t, ra.Conn, rb.res.Conn, []byte("ia"))
}

func TestRefused(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		provide Method
		pa, pb  params
		lookup  Lookup
		initErr string // part of the initiator's error; "" for any
		recvErr string // part of the receiver's error; "" when it succeeds
	}{
		"wrong info-hash":  {provide: RC4, lookup: InfoHashes(otherHash), recvErr: errUnknownTorrent.Error()},
		"no lookup":        {provide: RC4, recvErr: errUnknownTorrent.Error()},
		"PadA of 513":      {provide: RC4, pa: params{pad: pad(maxPad + 1)}, recvErr: errNoSync.Error()},
		"PadC of 513":      {provide: RC4, pa: params{pad2: pad(maxPad + 1)}, recvErr: "513 bytes of padding"},
		"nothing to offer": {provide: 0, initErr: "cannot offer", recvErr: "first bytes"},
		// The receiver has done its part; only the initiator can tell.
		"PadB of 513": {provide: RC4, pb: params{pad: pad(maxPad + 1)}, initErr: errNoSync.Error()},
		"PadD of 513": {provide: RC4, pb: params{pad2: pad(maxPad + 1)}, initErr: "513 bytes of padding"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.pa.keys, tc.pb.keys = keysA, keysB
			if tc.lookup == nil && name != "no lookup" {
				tc.lookup = InfoHashes(testHash)
			}
			a, b, _ := handshake(t, tc.provide, nil, tc.pa, tc.pb, tc.lookup)
			if a.err == nil || !strings.Contains(a.err.Error(), tc.initErr) {
				t.Fatalf("initiator: %v, want %q", a.err, tc.initErr)
			}
			switch {
			case tc.recvErr == "" && b.err != nil:
				t.Fatalf("receiver: %v", b.err)
			case tc.recvErr != "" && (b.err == nil || !strings.Contains(b.err.Error(), tc.recvErr)):
				t.Fatalf("receiver: %v, want %q", b.err, tc.recvErr)
			}
		})
	}
}

// fakeConn reads from in and discards writes: one side of a handshake
// whose other side was computed ahead of time.
type fakeConn struct {
	net.Conn // nil: only Read and Write are used
	in       io.Reader
	out      bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error) { return c.out.Write(p) }

// fromInitiator is what an initiator with keysA sends to a receiver with
// keysB, from Ya to HASH('req2', SKEY) xor HASH('req3', S), followed by
// body encrypted as the rest of step 3.
func fromInitiator(padA int, skey [20]byte, body []byte) []byte {
	s, _ := keysA.secret(keysB.pub[:])
	out := append(keysA.pub[:], pad(padA)...)
	msg := step3(s, skey, RC4, nil, nil, newCipher("keyA", s, skey))[:40]
	enc := newCipher("keyA", s, skey)
	return append(append(out, msg...), xorStream(enc, body)...)
}

// fromReceiver is what a receiver with keysB answers an initiator with
// keysA: Yb, PadB, then body encrypted.
func fromReceiver(padB int, skey [20]byte, body []byte) []byte {
	s, _ := keysB.secret(keysA.pub[:])
	out := append(keysB.pub[:], pad(padB)...)
	return append(out, xorStream(newCipher("keyB", s, skey), body)...)
}

func xorStream(c interface{ XORKeyStream(dst, src []byte) }, b []byte) []byte {
	out := make([]byte, len(b))
	c.XORKeyStream(out, b)
	return out
}

// provideBody is the plaintext of step 3 after the SKEY hash.
func provideBody(provide Method, padC, ia []byte) []byte {
	b := make([]byte, vcLen)
	b = binary.BigEndian.AppendUint32(b, uint32(provide))
	b = binary.BigEndian.AppendUint16(b, uint16(len(padC)))
	b = append(b, padC...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ia)))
	return append(b, ia...)
}

func acceptBytes(in []byte) (Result, error) {
	return accept(&fakeConn{in: bytes.NewReader(in)}, InfoHashes(testHash), params{keys: keysB})
}

func TestAcceptInput(t *testing.T) {
	t.Parallel()
	plain := "\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05" + strings.Repeat("h", 40) + "more"
	badVC := provideBody(RC4, nil, nil)
	badVC[3] = 1
	tests := map[string]struct {
		in      []byte
		want    Method
		wantErr string
		read    string // what Result.Conn reads
	}{
		"plain handshake passes":  {in: []byte(plain), want: 0, read: plain},
		"crafted rc4":             {in: fromInitiator(0, testHash, append(provideBody(RC4, nil, []byte("IA")), "after"...)), want: RC4, read: "IAafter"},
		"crafted plaintext":       {in: append(fromInitiator(512, testHash, provideBody(Plaintext, pad(512), []byte("IA"))), "after"...), want: Plaintext, read: "IAafter"},
		"unknown bits ignored":    {in: fromInitiator(3, testHash, provideBody(0xfff0|Plaintext, nil, nil)), want: Plaintext},
		"nothing in common":       {in: fromInitiator(3, testHash, provideBody(0x10, nil, nil)), wantErr: "no method in common"},
		"wrong VC":                {in: fromInitiator(3, testHash, badVC), wantErr: "verification constant"},
		"other torrent":           {in: fromInitiator(3, otherHash, provideBody(RC4, nil, nil)), wantErr: errUnknownTorrent.Error()},
		"cut in IA":               {in: fromInitiator(3, testHash, provideBody(RC4, nil, pad(100)))[:96+3+40+16+50], wantErr: "read IA"},
		"short first bytes":       {in: []byte("\x13BitTorrent"), wantErr: "first bytes"},
		"short Ya":                {in: pad(95), wantErr: "read Ya"},
		"zero Ya":                 {in: make([]byte, 200), wantErr: errBadKey.Error()},
		"P-1 as Ya":               {in: dhPMinusOne.FillBytes(make([]byte, keyLen)), wantErr: errBadKey.Error()},
		"garbage":                 {in: pad(5000), wantErr: errNoSync.Error()},
		"garbage ending early":    {in: pad(300), wantErr: "EOF"},
		"PadA of 513":             {in: fromInitiator(513, testHash, provideBody(RC4, nil, nil)), wantErr: errNoSync.Error()},
		"PadC length over 512":    {in: fromInitiator(0, testHash, provideBody(RC4, pad(513), nil)), wantErr: "513 bytes of padding"},
		"PadC length 0xffff only": {in: fromInitiator(0, testHash, append(provideBody(RC4, nil, nil)[:12], 0xff, 0xff)), wantErr: "65535 bytes of padding"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := acceptBytes(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != tc.want {
				t.Fatalf("method %v, want %v", r.Method, tc.want)
			}
			got := make([]byte, len(tc.read))
			if _, err := io.ReadFull(r.Conn, got); err != nil || string(got) != tc.read {
				t.Fatalf("read %q (%v), want %q", got, err, tc.read)
			}
		})
	}
}

// A peer that stops mid-handshake is cut off by the caller's deadline.
func TestStalledPeer(t *testing.T) {
	t.Parallel()
	ca, cb := loopback(t)
	cb.SetDeadline(time.Now().Add(200 * time.Millisecond))
	ca.Write(keysA.pub[:50])
	_, err := Accept(cb, InfoHashes(testHash))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("error %v, want a deadline", err)
	}
}
