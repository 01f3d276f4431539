// Package metadata fetches and serves a torrent's info dictionary over
// BEP 9 (ut_metadata): an Assembler says which piece to ask which peer
// for, collects the pieces, and checks the result against the info-hash;
// Serve answers other peers' requests from our own info dictionary. It
// does no I/O: the caller moves the wire.MetadataMsg values.
package metadata

import (
	"crypto/sha1"
	"fmt"

	"github.com/torrent-dev/torrent/host/wire"
)

// HashMismatchError is returned when the assembled info dictionary does
// not hash to the info-hash. Peers sent its pieces; one or more of them
// lied, and the caller should ban them all: the Assembler already forgot
// them and started over.
type HashMismatchError[P comparable] struct {
	Size  int
	Peers []P
}

func (e *HashMismatchError[P]) Error() string {
	return fmt.Sprintf("metadata of %d bytes does not match the info-hash (from %d peers)", e.Size, len(e.Peers))
}

// Assembler collects one torrent's info dictionary from peers, each
// identified by a P of the caller's (an address, a connection). It is not
// safe for concurrent use: the torrent's loop owns it.
type Assembler[P comparable] struct {
	infoHash [20]byte
	peers    map[P]int // metadata_size each peer announced
	size     int       // of the attempt under way; 0 before one starts
	buf      []byte
	have     []bool
	from     []P          // who sent each piece
	asked    []map[P]bool // outstanding requests per piece
	done     []byte       // the verified info dictionary
}

// New returns an Assembler for the torrent of infoHash.
func New[P comparable](infoHash [20]byte) *Assembler[P] {
	return &Assembler[P]{infoHash: infoHash, peers: map[P]int{}}
}

// AddPeer records the metadata_size a peer's extension handshake
// announced; it is an error (and the peer is not used) when that size is
// zero, absurd or over wire.MaxMetadataSize.
func (a *Assembler[P]) AddPeer(p P, size int) error {
	if err := wire.CheckMetadataSize(size); err != nil {
		return err
	}
	a.peers[p] = size
	return nil
}

// DropPeer forgets a peer (gone, banned, or it rejected us): its
// outstanding requests go to others.
func (a *Assembler[P]) DropPeer(p P) {
	delete(a.peers, p)
	for _, asked := range a.asked {
		delete(asked, p)
	}
}

// start begins an attempt at the size most peers announced, so one peer
// lying about the size cannot steer the attempt.
func (a *Assembler[P]) start() bool {
	votes := map[int]int{}
	best := 0
	for _, s := range a.peers {
		votes[s]++
		if votes[s] > votes[best] || votes[s] == votes[best] && s < best {
			best = s
		}
	}
	if best == 0 {
		return false
	}
	n := wire.NumMetadataPieces(best)
	a.size, a.buf = best, make([]byte, best)
	a.have, a.from, a.asked = make([]bool, n), make([]P, n), make([]map[P]bool, n)
	for i := range a.asked {
		a.asked[i] = map[P]bool{}
	}
	return true
}

// Next returns a piece to request from p: one nobody has been asked for,
// else (at the end) one p has not been asked for. ok is false when there
// is nothing to ask p: the metadata is complete, p announced another size
// than the attempt's, or every missing piece is already asked of p.
func (a *Assembler[P]) Next(p P) (piece int, ok bool) {
	size, known := a.peers[p]
	if a.done != nil || !known {
		return 0, false
	}
	if a.size != 0 && size != a.size && !a.someoneHas(a.size) {
		a.reset() // every peer of the attempt's size is gone: follow the others
	}
	if a.size == 0 && !a.start() || size != a.size {
		return 0, false
	}
	spare := -1
	for i, h := range a.have {
		switch {
		case h || a.asked[i][p]:
		case len(a.asked[i]) == 0:
			a.asked[i][p] = true
			return i, true
		case spare < 0:
			spare = i
		}
	}
	if spare < 0 {
		return 0, false
	}
	a.asked[spare][p] = true
	return spare, true
}

// Reject handles p's reject of a piece: p will not be asked again (a
// peer rejects when it lacks the metadata or is overloaded).
func (a *Assembler[P]) Reject(p P, piece int) { a.DropPeer(p) }

// Data takes a data message from p. It is an error when p was not asked
// for that piece or the message's total size is not the attempt's: the
// caller should drop such a peer. When the last piece completes the
// dictionary, done is true and Info returns it, or, if it does not hash
// to the info-hash, err is a *HashMismatchError naming every peer that
// sent a piece, those peers are forgotten and the next attempt starts.
func (a *Assembler[P]) Data(p P, m wire.MetadataMsg) (done bool, err error) {
	if a.done != nil {
		return true, nil // a late duplicate
	}
	if m.Type != wire.MetadataData {
		return false, fmt.Errorf("ut_metadata %v where data was expected", m.Type)
	}
	if a.size == 0 || m.Piece < 0 || m.Piece >= len(a.have) || !a.asked[m.Piece][p] {
		return false, fmt.Errorf("ut_metadata piece %d that was not asked for", m.Piece)
	}
	if m.TotalSize != a.size || len(m.Data) != wire.MetadataPieceLen(a.size, m.Piece) {
		return false, fmt.Errorf("ut_metadata piece %d: total_size %d and %d bytes, want %d and %d",
			m.Piece, m.TotalSize, len(m.Data), a.size, wire.MetadataPieceLen(a.size, m.Piece))
	}
	delete(a.asked[m.Piece], p)
	if a.have[m.Piece] {
		return false, nil
	}
	copy(a.buf[m.Piece*wire.MetadataPieceSize:], m.Data)
	a.have[m.Piece], a.from[m.Piece] = true, p
	for _, h := range a.have {
		if !h {
			return false, nil
		}
	}
	if sha1.Sum(a.buf) == a.infoHash {
		a.done = a.buf
		return true, nil
	}
	bad := &HashMismatchError[P]{Size: a.size}
	seen := map[P]bool{}
	for _, q := range a.from {
		if !seen[q] {
			seen[q] = true
			bad.Peers = append(bad.Peers, q)
			delete(a.peers, q)
		}
	}
	a.reset()
	return false, bad
}

func (a *Assembler[P]) reset() {
	a.size, a.buf, a.have, a.from, a.asked = 0, nil, nil, nil, nil
}

func (a *Assembler[P]) someoneHas(size int) bool {
	for _, s := range a.peers {
		if s == size {
			return true
		}
	}
	return false
}

// Progress is how many pieces the attempt under way has, of how many.
func (a *Assembler[P]) Progress() (have, total int) {
	for _, h := range a.have {
		if h {
			have++
		}
	}
	return have, len(a.have)
}

// Info is the verified info dictionary, nil until complete.
func (a *Assembler[P]) Info() []byte { return a.done }

// Serve answers a peer's ut_metadata request from info, our info
// dictionary (nil while we have none): the piece, or a reject for a piece
// past the end or when we have no metadata.
func Serve(info []byte, req wire.MetadataMsg) wire.MetadataMsg {
	n := wire.MetadataPieceLen(len(info), req.Piece)
	if req.Type != wire.MetadataRequest || n == 0 {
		return wire.MetadataMsg{Type: wire.MetadataReject, Piece: req.Piece}
	}
	off := req.Piece * wire.MetadataPieceSize
	return wire.MetadataMsg{Type: wire.MetadataData, Piece: req.Piece, TotalSize: len(info), Data: info[off : off+n]}
}
