package mse

import (
	"bytes"
	"io"
	"testing"
)

// Raw bytes from a peer that opened a connection to us: a plain handshake,
// garbage, or an MSE start. Nothing may panic or read past the limits.
func FuzzAccept(f *testing.F) {
	f.Add([]byte("\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05"))
	f.Add(fromInitiator(5, testHash, provideBody(RC4|Plaintext, nil, []byte("ia"))))
	f.Add(pad(700))
	f.Fuzz(func(t *testing.T, in []byte) {
		in = in[:min(len(in), 1<<17)]
		c := &fakeConn{in: bytes.NewReader(in)}
		r, err := accept(c, InfoHashes(testHash), params{keys: keysB})
		if err != nil {
			return
		}
		if r.Method == 0 && !bytes.HasPrefix(in, []byte(plainName)) {
			t.Fatalf("passed through as plain: %q", in[:20])
		}
		io.Copy(io.Discard, r.Conn)
	})
}

// The encrypted part of step 3 (VC, crypto_provide, len(PadC), PadC,
// len(IA), IA and what follows), reached with a valid key exchange so that
// the fuzzer works on the parser rather than on finding HASH('req1', S).
func FuzzAcceptProvide(f *testing.F) {
	f.Add(uint16(0), provideBody(RC4, nil, []byte("ia")))
	f.Add(uint16(512), provideBody(Plaintext, pad(512), pad(600)))
	f.Add(uint16(3), provideBody(0xff, pad(513), nil))
	f.Fuzz(func(t *testing.T, padA uint16, body []byte) {
		body = body[:min(len(body), 1<<17)]
		r, err := acceptBytes(fromInitiator(int(padA%600), testHash, body))
		if err != nil {
			return
		}
		if padA%600 > maxPad {
			t.Fatalf("accepted PadA of %d bytes", padA%600)
		}
		if r.Method != RC4 && r.Method != Plaintext || r.InfoHash != testHash {
			t.Fatalf("method %v, info-hash %x", r.Method, r.InfoHash)
		}
		io.Copy(io.Discard, r.Conn)
	})
}

// Step 2 and 4 as the initiator reads them: PadB, then ENCRYPT(VC,
// crypto_select, len(PadD), PadD) and the payload.
func FuzzInitiate(f *testing.F) {
	f.Add(uint16(0), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0})
	f.Add(uint16(512), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3, 1, 2, 3, 'x'})
	f.Add(uint16(9), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 1})
	f.Fuzz(func(t *testing.T, padB uint16, body []byte) {
		body = body[:min(len(body), 1<<17)]
		in := fromReceiver(int(padB%600), testHash, body)
		c := &fakeConn{in: bytes.NewReader(in)}
		r, err := initiate(c, testHash, RC4|Plaintext, []byte("ia"), params{keys: keysA})
		if err != nil {
			return
		}
		if padB%600 > maxPad {
			t.Fatalf("accepted PadB of %d bytes", padB%600)
		}
		if r.Method != RC4 && r.Method != Plaintext {
			t.Fatalf("method %v", r.Method)
		}
		io.Copy(io.Discard, r.Conn)
	})
}
