package wire

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// ProtocolName is the handshake's protocol string.
const ProtocolName = "BitTorrent protocol"

const handshakeLen = 1 + len(ProtocolName) + 8 + 20 + 20

// Handshake is the first message each side sends.
type Handshake struct {
	Reserved         [8]byte
	InfoHash, PeerID [20]byte
}

// NewHandshake returns our handshake, announcing the Fast (BEP 6) and
// extension (BEP 10) protocols.
func NewHandshake(infoHash, peerID [20]byte) Handshake {
	h := Handshake{InfoHash: infoHash, PeerID: peerID}
	h.Reserved[5] |= 0x10
	h.Reserved[7] |= 0x04
	return h
}

// Fast reports support for BEP 6.
func (h Handshake) Fast() bool { return h.Reserved[7]&0x04 != 0 }

// Extended reports support for BEP 10.
func (h Handshake) Extended() bool { return h.Reserved[5]&0x10 != 0 }

// DHT reports a DHT node (BEP 5): the peer will take a Port message.
func (h Handshake) DHT() bool { return h.Reserved[7]&0x01 != 0 }

// SetDHT announces our DHT node (BEP 5).
func (h *Handshake) SetDHT() { h.Reserved[7] |= 0x01 }

// NoFast takes back BEP 6 (for ours), or records that it is not in force
// on a connection (for a peer's: only where both offer it is it on).
func (h *Handshake) NoFast() { h.Reserved[7] &^= 0x04 }

// WriteHandshake sends h in one write.
func WriteHandshake(w io.Writer, h Handshake) error {
	var b [handshakeLen]byte
	b[0] = byte(len(ProtocolName))
	n := 1 + copy(b[1:], ProtocolName)
	n += copy(b[n:], h.Reserved[:])
	n += copy(b[n:], h.InfoHash[:])
	copy(b[n:], h.PeerID[:])
	_, err := w.Write(b[:])
	return err
}

// ReadHandshake reads the other side's handshake.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var b [handshakeLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	if int(b[0]) != len(ProtocolName) || string(b[1:1+len(ProtocolName)]) != ProtocolName {
		return Handshake{}, errors.New("not a BitTorrent handshake")
	}
	var h Handshake
	n := 1 + len(ProtocolName)
	n += copy(h.Reserved[:], b[n:])
	n += copy(h.InfoHash[:], b[n:])
	copy(h.PeerID[:], b[n:])
	return h, nil
}

// ExtHandshake is the BEP 10 handshake dictionary.
type ExtHandshake struct {
	M            map[string]int `bencode:"m"`
	V            string         `bencode:"v,omitempty"`
	Port         int            `bencode:"p,omitempty"`
	Reqq         int            `bencode:"reqq,omitempty"`
	YourIP       []byte         `bencode:"yourip,omitempty"`
	MetadataSize int            `bencode:"metadata_size,omitempty"`
}

// ParseExtHandshake decodes an extension handshake payload.
func ParseExtHandshake(payload []byte) (h ExtHandshake, err error) {
	defer func() {
		if r := recover(); r != nil { // the decoder must not take the host down
			err = fmt.Errorf("extension handshake: %v", r)
		}
	}()
	if err := bencode.Unmarshal(payload, &h); err != nil {
		return ExtHandshake{}, fmt.Errorf("extension handshake: %w", err)
	}
	if h.Reqq < 0 || h.Port < 0 || h.Port > 65535 {
		return ExtHandshake{}, fmt.Errorf("extension handshake: reqq %d, port %d", h.Reqq, h.Port)
	}
	return h, nil
}

// Marshal encodes the handshake dictionary.
func (h ExtHandshake) Marshal() []byte {
	if h.M == nil {
		h.M = map[string]int{}
	}
	b, err := bencode.Marshal(h)
	if err != nil {
		panic(err) // only plain fields: cannot fail
	}
	return b
}

// AllowedFastSet is BEP 6's canonical set of k pieces a peer at ip may
// fetch while choked.
func AllowedFastSet(ip netip.Addr, infoHash [20]byte, numPieces, k int) []uint32 {
	if !ip.Is4() && !ip.Is4In6() || numPieces <= 0 {
		return nil
	}
	k = min(k, numPieces)
	a := ip.Unmap().As4()
	x := make([]byte, 0, 24)
	x = append(x, a[0], a[1], a[2], 0)
	x = append(x, infoHash[:]...)
	var set []uint32
	for len(set) < k {
		s := sha1.Sum(x)
		x = s[:]
		for i := 0; i < 5 && len(set) < k; i++ {
			idx := binary.BigEndian.Uint32(x[4*i:]) % uint32(numPieces)
			if !containsU32(set, idx) {
				set = append(set, idx)
			}
		}
	}
	return set
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
