package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// PEXFlags describe an added peer (BEP 11).
type PEXFlags uint8

// BEP 11's flags.
const (
	PEXEncryption PEXFlags = 0x01 // prefers encrypted connections
	PEXSeed       PEXFlags = 0x02 // a seed or upload-only
	PEXUTP        PEXFlags = 0x04 // supports uTP
	PEXHolepunch  PEXFlags = 0x08 // supports ut_holepunch
	PEXReachable  PEXFlags = 0x10 // the sender connected out to it
)

// MaxPEXEntries bounds each of the four lists (added, added6, dropped,
// dropped6) a ut_pex message may carry. libtorrent sends at most 100
// added peers per message and Transmission 50; this leaves room for
// other clients and still bounds what one message can make us allocate.
const MaxPEXEntries = 200

// PEXPeer is one added peer.
type PEXPeer struct {
	Addr  netip.AddrPort
	Flags PEXFlags
}

// PEXMsg is a ut_pex message: peers the sender connected to since its last
// message and peers it dropped, IPv4 and IPv6 in one list each. Addresses
// are as sent (port 0, private ranges and all): the caller filters.
type PEXMsg struct {
	Added   []PEXPeer
	Dropped []netip.AddrPort
}

type pexDict struct {
	Added    []byte `bencode:"added"`
	AddedF   []byte `bencode:"added.f"`
	Dropped  []byte `bencode:"dropped"`
	Added6   []byte `bencode:"added6"`
	Added6F  []byte `bencode:"added6.f"`
	Dropped6 []byte `bencode:"dropped6"`
}

// AppendPEXMsg appends m's payload to dst. IPv4 and IPv4-mapped addresses
// go in the IPv4 lists, the rest in the IPv6 ones.
func AppendPEXMsg(dst []byte, m PEXMsg) []byte {
	var d pexDict
	d.Added, d.AddedF, d.Dropped = []byte{}, []byte{}, []byte{}
	d.Added6, d.Added6F, d.Dropped6 = []byte{}, []byte{}, []byte{}
	for _, p := range m.Added {
		if a := p.Addr.Addr(); a.Is4() || a.Is4In6() {
			d.Added, d.AddedF = appendCompact(d.Added, p.Addr), append(d.AddedF, byte(p.Flags))
		} else {
			d.Added6, d.Added6F = appendCompact(d.Added6, p.Addr), append(d.Added6F, byte(p.Flags))
		}
	}
	for _, ap := range m.Dropped {
		if a := ap.Addr(); a.Is4() || a.Is4In6() {
			d.Dropped = appendCompact(d.Dropped, ap)
		} else {
			d.Dropped6 = appendCompact(d.Dropped6, ap)
		}
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		panic(err) // byte strings only: cannot fail
	}
	return append(dst, b...)
}

// appendCompact writes BEP 23's compact form: 4 or 16 address bytes, then
// the port, big-endian.
func appendCompact(dst []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().Unmap()
	if a.Is4() {
		b := a.As4()
		dst = append(dst, b[:]...)
	} else {
		b := a.As16()
		dst = append(dst, b[:]...)
	}
	return binary.BigEndian.AppendUint16(dst, ap.Port())
}

// ParsePEXMsg decodes a ut_pex payload. A list whose length is not a
// whole number of addresses, or longer than MaxPEXEntries, is an error;
// a flags string of the wrong length gives those peers flags 0: the
// addresses are still good without their hints.
func ParsePEXMsg(payload []byte) (m PEXMsg, err error) {
	defer func() {
		if r := recover(); r != nil { // the decoder must not take the host down
			m, err = PEXMsg{}, fmt.Errorf("ut_pex: %v", r)
		}
	}()
	var d pexDict
	if err := bencode.Unmarshal(payload, &d); err != nil {
		return PEXMsg{}, fmt.Errorf("ut_pex: %w", err)
	}
	for _, l := range []struct {
		name  string
		b, f  []byte
		width int
		added bool
	}{
		{"added", d.Added, d.AddedF, 6, true},
		{"added6", d.Added6, d.Added6F, 18, true},
		{"dropped", d.Dropped, nil, 6, false},
		{"dropped6", d.Dropped6, nil, 18, false},
	} {
		if len(l.b)%l.width != 0 {
			return PEXMsg{}, fmt.Errorf("ut_pex: %s is %d bytes, not a multiple of %d", l.name, len(l.b), l.width)
		}
		n := len(l.b) / l.width
		if n > MaxPEXEntries {
			return PEXMsg{}, fmt.Errorf("ut_pex: %d peers in %s (limit %d)", n, l.name, MaxPEXEntries)
		}
		for i := range n {
			ap := parseCompact(l.b[i*l.width : (i+1)*l.width])
			if !l.added {
				m.Dropped = append(m.Dropped, ap)
				continue
			}
			var f PEXFlags
			if len(l.f) == n {
				f = PEXFlags(l.f[i])
			}
			m.Added = append(m.Added, PEXPeer{Addr: ap, Flags: f})
		}
	}
	return m, nil
}

func parseCompact(b []byte) netip.AddrPort {
	a, _ := netip.AddrFromSlice(b[:len(b)-2])
	return netip.AddrPortFrom(a.Unmap(), binary.BigEndian.Uint16(b[len(b)-2:]))
}
