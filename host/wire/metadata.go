package wire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/anacrolix/torrent/bencode"
)

// Extension names as peers announce them in the BEP 10 handshake's m.
const (
	ExtMetadata = "ut_metadata" // BEP 9
	ExtPEX      = "ut_pex"      // BEP 11
)

// MetadataPieceSize is BEP 9's piece size: every piece of the info
// dictionary but the last is exactly this long.
const MetadataPieceSize = 16 << 10

// MaxMetadataSize caps the info dictionary we fetch or accept a size
// for. It is libtorrent's own max_metadata_size (30 MiB in 2.0.8), so
// whatever a libtorrent client can fetch by magnet link we can too; that
// is 1.5 million piece hashes, more than any real torrent has. A cap is
// needed because a peer names the size before anything can be checked
// against the info-hash.
const MaxMetadataSize = 30 << 20

// MaxMetadataPieces is the number of pieces of the largest info dictionary.
const MaxMetadataPieces = MaxMetadataSize / MetadataPieceSize

// MetadataType is a ut_metadata message's msg_type.
type MetadataType int

// BEP 9's message types.
const (
	MetadataRequest MetadataType = 0
	MetadataData    MetadataType = 1
	MetadataReject  MetadataType = 2
)

func (t MetadataType) String() string {
	switch t {
	case MetadataRequest:
		return "request"
	case MetadataData:
		return "data"
	case MetadataReject:
		return "reject"
	}
	return fmt.Sprintf("msg_type %d", int(t))
}

// MetadataMsg is one ut_metadata message: the payload of an Extended
// message whose ExtID is the receiver's number for ut_metadata.
type MetadataMsg struct {
	Type      MetadataType
	Piece     int
	TotalSize int    // data only: the whole info dictionary's size
	Data      []byte // data only: the piece, after the dictionary
}

type metadataDict struct {
	Type      int `bencode:"msg_type"`
	Piece     int `bencode:"piece"`
	TotalSize int `bencode:"total_size,omitempty"`
}

// AppendMetadataMsg appends m's payload (dictionary, then data) to dst.
func AppendMetadataMsg(dst []byte, m MetadataMsg) []byte {
	d := metadataDict{Type: int(m.Type), Piece: m.Piece}
	if m.Type == MetadataData {
		d.TotalSize = m.TotalSize
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		panic(err) // plain ints: cannot fail
	}
	dst = append(dst, b...)
	if m.Type == MetadataData {
		dst = append(dst, m.Data...)
	}
	return dst
}

// ParseMetadataMsg decodes a ut_metadata payload. Data aliases payload.
// A piece index or size beyond MaxMetadataSize, a data piece longer than
// MetadataPieceSize or past total_size, and bytes after a request's or
// reject's dictionary are errors.
func ParseMetadataMsg(payload []byte) (m MetadataMsg, err error) {
	defer func() {
		if r := recover(); r != nil { // the decoder must not take the host down
			m, err = MetadataMsg{}, fmt.Errorf("ut_metadata: %v", r)
		}
	}()
	dec := bencode.NewDecoder(bytes.NewReader(payload))
	var d metadataDict
	d.Type = -1
	d.Piece = -1
	if err := dec.Decode(&d); err != nil {
		return MetadataMsg{}, fmt.Errorf("ut_metadata: %w", err)
	}
	rest := payload[dec.Offset:]
	m = MetadataMsg{Type: MetadataType(d.Type), Piece: d.Piece}
	switch {
	case m.Type < MetadataRequest || m.Type > MetadataReject:
		return MetadataMsg{}, fmt.Errorf("ut_metadata: %v", m.Type)
	case d.Piece < 0 || d.Piece >= MaxMetadataPieces:
		return MetadataMsg{}, fmt.Errorf("ut_metadata %v: piece %d out of range", m.Type, d.Piece)
	case m.Type != MetadataData:
		if len(rest) != 0 {
			return MetadataMsg{}, fmt.Errorf("ut_metadata %v: %d bytes after the dictionary", m.Type, len(rest))
		}
		return m, nil
	}
	if d.TotalSize <= 0 || d.TotalSize > MaxMetadataSize {
		return MetadataMsg{}, fmt.Errorf("ut_metadata data: total_size %d (limit %d)", d.TotalSize, MaxMetadataSize)
	}
	if want := MetadataPieceLen(d.TotalSize, d.Piece); len(rest) != want {
		return MetadataMsg{}, fmt.Errorf("ut_metadata data: piece %d of %d bytes, want %d for total_size %d",
			d.Piece, len(rest), want, d.TotalSize)
	}
	m.TotalSize, m.Data = d.TotalSize, rest
	return m, nil
}

// MetadataPieceLen is the length of piece i of an info dictionary of size
// bytes: 0 if there is no such piece.
func MetadataPieceLen(size, i int) int {
	if i < 0 || size <= 0 || i*MetadataPieceSize >= size {
		return 0
	}
	return min(MetadataPieceSize, size-i*MetadataPieceSize)
}

// NumMetadataPieces is how many pieces an info dictionary of size bytes has.
func NumMetadataPieces(size int) int {
	return (size + MetadataPieceSize - 1) / MetadataPieceSize
}

// ErrNoMetadataSize is returned for a metadata_size that cannot be right.
var ErrNoMetadataSize = errors.New("metadata_size out of range")

// CheckMetadataSize accepts a metadata_size from an extension handshake.
func CheckMetadataSize(size int) error {
	if size <= 0 || size > MaxMetadataSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrNoMetadataSize, size, MaxMetadataSize)
	}
	return nil
}
