package mse

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// readAhead buffers the handshake's reads; the synchronisation searches
// peek at most 532 bytes.
const readAhead = 1 << 10

// params are one side's choices: random in Initiate and Accept, fixed by
// tests.
type params struct {
	keys keys
	pad  []byte // PadA or PadB, before the marker the other side looks for
	pad2 []byte // PadC or PadD, inside the encrypted header
}

func randomParams() (params, error) {
	k, err := newKeys(rand.Reader)
	if err != nil {
		return params{}, err
	}
	// PadC and PadD stay empty, as in libtorrent's answers: they are
	// encrypted and so hide nothing the random PadA and PadB do not.
	return params{keys: k, pad: randomPad()}, nil
}

// Initiate runs side A over c, a connection we opened to a peer, for the
// torrent infoHash, offering the methods in provide. ia (at most 65535
// bytes, usually our BitTorrent handshake) is sent as the initial payload,
// always RC4-encrypted, so that B can answer it without another round trip.
func Initiate(c net.Conn, infoHash [20]byte, provide Method, ia []byte) (Result, error) {
	p, err := randomParams()
	if err != nil {
		return Result{}, err
	}
	return initiate(c, infoHash, provide, ia, p)
}

func initiate(c net.Conn, skey [20]byte, provide Method, ia []byte, p params) (Result, error) {
	if provide == 0 || provide&^(Plaintext|RC4) != 0 {
		return Result{}, fmt.Errorf("mse: cannot offer %v", provide)
	}
	if len(ia) > 0xffff {
		return Result{}, fmt.Errorf("mse: initial payload of %d bytes is too long", len(ia))
	}
	if _, err := c.Write(append(p.keys.pub[:], p.pad...)); err != nil {
		return Result{}, fmt.Errorf("mse: send Ya: %w", err)
	}
	br := bufio.NewReaderSize(c, readAhead)
	var yb [keyLen]byte
	if _, err := io.ReadFull(br, yb[:]); err != nil {
		return Result{}, fmt.Errorf("mse: read Yb: %w", err)
	}
	s, err := p.keys.secret(yb[:])
	if err != nil {
		return Result{}, err
	}
	enc, dec := newCipher("keyA", s, skey), newCipher("keyB", s, skey)
	if _, err := c.Write(step3(s, skey, provide, p.pad2, ia, enc)); err != nil {
		return Result{}, fmt.Errorf("mse: send crypto_provide: %w", err)
	}

	// PadB, of unknown length, ends where ENCRYPT(VC) starts.
	var vc [vcLen]byte
	dec.XORKeyStream(vc[:], vc[:])
	if err := syncOn(br, vc[:], maxPad+vcLen); err != nil {
		return Result{}, fmt.Errorf("mse: find VC: %w", err)
	}
	var hdr [4 + 2]byte // crypto_select, len(PadD)
	if err := readDecrypt(br, hdr[:], dec); err != nil {
		return Result{}, fmt.Errorf("mse: read crypto_select: %w", err)
	}
	sel := Method(binary.BigEndian.Uint32(hdr[:4]))
	if sel != Plaintext && sel != RC4 || sel&provide == 0 {
		return Result{}, fmt.Errorf("mse: peer selected %v, we offered %v", sel, provide)
	}
	if _, err := readPad(br, binary.BigEndian.Uint16(hdr[4:]), dec); err != nil {
		return Result{}, fmt.Errorf("mse: read PadD: %w", err)
	}
	return Result{Conn: stream(c, br, sel, enc, dec, nil), Method: sel, InfoHash: skey}, nil
}

// step3 is HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
// ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA).
func step3(s [keyLen]byte, skey [20]byte, provide Method, padC, ia []byte, enc *rc4.Cipher) []byte {
	req1, req2, req3 := hash("req1", s[:]), Req2(skey), hash("req3", s[:])
	msg := make([]byte, 0, 40+vcLen+4+2+len(padC)+2+len(ia))
	msg = append(msg, req1[:]...)
	for i := range req2 {
		msg = append(msg, req2[i]^req3[i])
	}
	at := len(msg)
	msg = append(msg, make([]byte, vcLen)...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(provide))
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(padC)))
	msg = append(msg, padC...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(ia)))
	msg = append(msg, ia...)
	enc.XORKeyStream(msg[at:], msg[at:])
	return msg
}

// Accept runs side B over c, a connection a peer opened. A peer that
// starts with a plain BitTorrent handshake is let through untouched
// (Method 0, the handshake still to be read from Result.Conn); anything
// else must be MSE for a torrent lookup knows. B selects plaintext when the
// peer offers it, as libtorrent does (prefer_rc4 off): the handshake is
// obfuscated either way, and RC4 would cost about a core per 500 MB/s.
// RC4 is selected for a peer that offers nothing else.
func Accept(c net.Conn, lookup Lookup) (Result, error) {
	p, err := randomParams()
	if err != nil {
		return Result{}, err
	}
	return accept(c, lookup, p)
}

func accept(c net.Conn, lookup Lookup, p params) (Result, error) {
	br := bufio.NewReaderSize(c, readAhead)
	first, err := br.Peek(len(plainName))
	if err != nil {
		return Result{}, fmt.Errorf("mse: read first bytes: %w", err)
	}
	if string(first) == plainName {
		return Result{Conn: stream(c, br, Plaintext, nil, nil, nil)}, nil
	}
	var ya [keyLen]byte
	if _, err := io.ReadFull(br, ya[:]); err != nil {
		return Result{}, fmt.Errorf("mse: read Ya: %w", err)
	}
	s, err := p.keys.secret(ya[:])
	if err != nil {
		return Result{}, err
	}
	if _, err := c.Write(append(p.keys.pub[:], p.pad...)); err != nil {
		return Result{}, fmt.Errorf("mse: send Yb: %w", err)
	}

	skey, err := readSKey(br, s, lookup)
	if err != nil {
		return Result{}, err
	}
	dec, enc := newCipher("keyA", s, skey), newCipher("keyB", s, skey)
	provide, ia, err := readProvide(br, dec)
	if err != nil {
		return Result{}, err
	}
	var sel Method
	switch {
	case provide&Plaintext != 0:
		sel = Plaintext
	case provide&RC4 != 0:
		sel = RC4
	default:
		return Result{}, fmt.Errorf("mse: no method in common: peer offers %v", provide)
	}
	msg := make([]byte, 0, vcLen+4+2+len(p.pad2))
	msg = append(msg, make([]byte, vcLen)...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(sel))
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(p.pad2)))
	msg = append(msg, p.pad2...)
	enc.XORKeyStream(msg, msg)
	if _, err := c.Write(msg); err != nil {
		return Result{}, fmt.Errorf("mse: send crypto_select: %w", err)
	}
	return Result{Conn: stream(c, br, sel, enc, dec, ia), Method: sel, InfoHash: skey}, nil
}

// readSKey finds the torrent an initiator asks for: past PadA, of unknown
// length, which ends where HASH('req1', S) starts, comes
// HASH('req2', SKEY) xor HASH('req3', S).
func readSKey(br *bufio.Reader, s [keyLen]byte, lookup Lookup) ([20]byte, error) {
	req1 := hash("req1", s[:])
	if err := syncOn(br, req1[:], maxPad+len(req1)); err != nil {
		return [20]byte{}, fmt.Errorf("mse: find req1: %w", err)
	}
	var x [20]byte
	if _, err := io.ReadFull(br, x[:]); err != nil {
		return [20]byte{}, fmt.Errorf("mse: read SKEY hash: %w", err)
	}
	req3 := hash("req3", s[:])
	for i := range x {
		x[i] ^= req3[i]
	}
	if lookup != nil {
		if skey, ok := lookup(x); ok {
			return skey, nil
		}
	}
	return [20]byte{}, errUnknownTorrent
}

// readProvide reads ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)),
// ENCRYPT(IA), and returns crypto_provide and IA.
func readProvide(br *bufio.Reader, dec *rc4.Cipher) (Method, []byte, error) {
	var hdr [vcLen + 4 + 2]byte
	if err := readDecrypt(br, hdr[:], dec); err != nil {
		return 0, nil, fmt.Errorf("mse: read crypto_provide: %w", err)
	}
	if !bytes.Equal(hdr[:vcLen], make([]byte, vcLen)) {
		return 0, nil, errors.New("mse: wrong verification constant")
	}
	provide := Method(binary.BigEndian.Uint32(hdr[vcLen:]))
	if _, err := readPad(br, binary.BigEndian.Uint16(hdr[vcLen+4:]), dec); err != nil {
		return 0, nil, fmt.Errorf("mse: read PadC: %w", err)
	}
	var n [2]byte
	if err := readDecrypt(br, n[:], dec); err != nil {
		return 0, nil, fmt.Errorf("mse: read len(IA): %w", err)
	}
	ia := make([]byte, binary.BigEndian.Uint16(n[:])) // at most 64 KiB
	if err := readDecrypt(br, ia, dec); err != nil {
		return 0, nil, fmt.Errorf("mse: read IA: %w", err)
	}
	return provide, ia, nil
}

// syncOn consumes the stream up to and including marker, which must end
// within limit bytes: a peer cannot make us read without bound.
func syncOn(br *bufio.Reader, marker []byte, limit int) error {
	for n := len(marker); n <= limit; n++ {
		b, err := br.Peek(n)
		if err != nil {
			return err
		}
		if bytes.Equal(b[n-len(marker):], marker) {
			_, err := br.Discard(n)
			return err
		}
	}
	return errNoSync
}

func readDecrypt(r io.Reader, b []byte, dec *rc4.Cipher) error {
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	dec.XORKeyStream(b, b)
	return nil
}

// readPad reads and decrypts (the cipher must move past it) n bytes of
// padding, refusing more than the spec's 512.
func readPad(r io.Reader, n uint16, dec *rc4.Cipher) ([]byte, error) {
	if n > maxPad {
		return nil, fmt.Errorf("%d bytes of padding, more than %d", n, maxPad)
	}
	pad := make([]byte, n)
	return pad, readDecrypt(r, pad, dec)
}
