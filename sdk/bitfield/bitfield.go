// Package bitfield is the piece set used on the wire (BEP 3: high bit of
// byte 0 is piece 0), by the host and by picker plugins.
package bitfield

import (
	"fmt"
	"math/bits"
)

// Bitfield is a fixed-length set of piece indices.
type Bitfield struct {
	b []byte
	n int
}

// New returns an empty bitfield of n pieces.
func New(n int) Bitfield { return Bitfield{b: make([]byte, (n+7)/8), n: n} }

// FromBytes copies a wire bitfield of n pieces. Spare bits at the end must be
// zero, as BEP 3 requires.
func FromBytes(p []byte, n int) (Bitfield, error) {
	if len(p) != (n+7)/8 {
		return Bitfield{}, fmt.Errorf("bitfield of %d bytes for %d pieces", len(p), n)
	}
	if n%8 != 0 && p[len(p)-1]&(0xff>>(n%8)) != 0 {
		return Bitfield{}, fmt.Errorf("bitfield has spare bits set")
	}
	f := New(n)
	copy(f.b, p)
	return f, nil
}

// Len is the number of pieces the bitfield covers.
func (f Bitfield) Len() int { return f.n }

// Bytes is the wire form; the caller must not modify it.
func (f Bitfield) Bytes() []byte { return f.b }

// Has reports whether piece i is set; out-of-range indices are not.
func (f Bitfield) Has(i int) bool {
	return i >= 0 && i < f.n && f.b[i>>3]&(0x80>>(i&7)) != 0
}

// Set adds piece i; out-of-range indices are ignored.
func (f Bitfield) Set(i int) {
	if i >= 0 && i < f.n {
		f.b[i>>3] |= 0x80 >> (i & 7)
	}
}

// Clear removes piece i.
func (f Bitfield) Clear(i int) {
	if i >= 0 && i < f.n {
		f.b[i>>3] &^= 0x80 >> (i & 7)
	}
}

// SetAll adds every piece.
func (f Bitfield) SetAll() {
	for i := range f.b {
		f.b[i] = 0xff
	}
	if f.n%8 != 0 {
		f.b[len(f.b)-1] = 0xff << (8 - f.n%8)
	}
}

// Count is the number of pieces set.
func (f Bitfield) Count() int {
	c := 0
	for _, x := range f.b {
		c += bits.OnesCount8(x)
	}
	return c
}

// Full reports whether every piece is set.
func (f Bitfield) Full() bool { return f.Count() == f.n }

// Clone returns an independent copy.
func (f Bitfield) Clone() Bitfield {
	g := New(f.n)
	copy(g.b, f.b)
	return g
}
