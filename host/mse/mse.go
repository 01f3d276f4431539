// Package mse implements Message Stream Encryption (MSE, also called
// Protocol Encryption or PE), the obfuscated handshake that libtorrent,
// Transmission, qBittorrent and Vuze use in front of the BitTorrent
// protocol: https://wiki.vuze.com/w/Message_Stream_Encryption
//
//	1 A->B: Ya, PadA
//	2 B->A: Yb, PadB
//	3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//	        ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//	4 B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
//	5 A->B: ENCRYPT2(payload)
//
// Y is a 768-bit Diffie-Hellman public key, S the shared secret, SKEY the
// torrent's info-hash, HASH SHA-1, ENCRYPT RC4 keyed with HASH('keyA'|'keyB',
// S, SKEY) after discarding 1024 bytes, and ENCRYPT2 the method B selected.
// Initiate is side A, Accept side B. Neither sets deadlines: the caller
// bounds the handshake with the connection's deadline.
package mse

import (
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
)

// Method is a crypto_provide / crypto_select bit set.
type Method uint32

// The payload encryption methods of the spec.
const (
	Plaintext Method = 0x01
	RC4       Method = 0x02
)

// String names the methods in m, as logs show them.
func (m Method) String() string {
	switch m {
	case 0:
		return "none"
	case Plaintext:
		return "plaintext"
	case RC4:
		return "rc4"
	case Plaintext | RC4:
		return "plaintext|rc4"
	}
	return fmt.Sprintf("method(%#x)", uint32(m))
}

// Result is a finished handshake.
type Result struct {
	// Conn carries the BitTorrent stream: bytes read ahead during the
	// handshake come first, and with RC4 everything is decrypted and
	// encrypted. Reads and writes may run concurrently with each other,
	// but not with themselves.
	Conn net.Conn
	// Method is the payload encryption agreed on, or 0 when the peer
	// skipped MSE and sent a plain BitTorrent handshake (Accept only).
	Method Method
	// InfoHash is the torrent the initiator asked for (SKEY).
	InfoHash [20]byte
}

// Lookup finds the info-hash whose HASH('req2', info-hash) is req2, the
// way the receiving side learns which torrent is wanted; ok is false for a
// torrent it does not serve.
type Lookup func(req2 [20]byte) (infoHash [20]byte, ok bool)

// InfoHashes is the Lookup for a fixed set of torrents.
func InfoHashes(hashes ...[20]byte) Lookup {
	m := make(map[[20]byte][20]byte, len(hashes))
	for _, h := range hashes {
		m[Req2(h)] = h
	}
	return func(req2 [20]byte) ([20]byte, bool) {
		h, ok := m[req2]
		return h, ok
	}
}

// Req2 is HASH('req2', infoHash), the key under which Lookup finds a torrent.
func Req2(infoHash [20]byte) [20]byte { return hash("req2", infoHash[:]) }

// Sizes and limits of the spec.
const (
	keyLen    = 96  // a 768-bit DH public key, big-endian, zero-padded
	privLen   = 20  // 160-bit private keys, as every client uses
	maxPad    = 512 // PadA, PadB, PadC and PadD
	vcLen     = 8
	rc4Skip   = 1024
	plainName = "\x13BitTorrent protocol"
)

var (
	dhP, _      = new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
	dhPMinusOne = new(big.Int).Sub(dhP, big.NewInt(1))
	dhG         = big.NewInt(2)
)

var (
	errUnknownTorrent = errors.New("mse: peer asked for a torrent we do not serve")
	errNoSync         = errors.New("mse: synchronisation marker not found within the padding limit")
	errBadKey         = errors.New("mse: invalid Diffie-Hellman public key")
)

// keys is one side's Diffie-Hellman key pair.
type keys struct {
	priv *big.Int
	pub  [keyLen]byte
}

func newKeys(random io.Reader) (keys, error) {
	var b [privLen]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return keys{}, fmt.Errorf("mse: private key: %w", err)
	}
	return keysFrom(new(big.Int).SetBytes(b[:])), nil
}

func keysFrom(priv *big.Int) keys {
	k := keys{priv: priv}
	new(big.Int).Exp(dhG, priv, dhP).FillBytes(k.pub[:])
	return k
}

// secret is S from the other side's public key; keys outside 2..P-2 are
// refused, since 0, 1 and P-1 would make S guessable.
func (k keys) secret(theirs []byte) ([keyLen]byte, error) {
	var s [keyLen]byte
	y := new(big.Int).SetBytes(theirs)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(dhPMinusOne) >= 0 {
		return s, errBadKey
	}
	new(big.Int).Exp(y, k.priv, dhP).FillBytes(s[:])
	return s, nil
}

func hash(name string, parts ...[]byte) [20]byte {
	h := sha1.New()
	h.Write([]byte(name))
	for _, p := range parts {
		h.Write(p)
	}
	var out [20]byte
	h.Sum(out[:0])
	return out
}

// newCipher is the RC4 stream keyed with HASH(name, S, SKEY), its first
// 1024 bytes discarded as the spec requires.
func newCipher(name string, s [keyLen]byte, skey [20]byte) *rc4.Cipher {
	key := hash(name, s[:], skey[:])
	c, _ := rc4.NewCipher(key[:]) // 20 bytes is a valid RC4 key
	var skip [rc4Skip]byte
	c.XORKeyStream(skip[:], skip[:])
	return c
}

// randomPad is 0..512 random bytes.
func randomPad() []byte {
	n, _ := rand.Int(rand.Reader, big.NewInt(maxPad+1))
	p := make([]byte, n.Int64())
	rand.Read(p)
	return p
}
