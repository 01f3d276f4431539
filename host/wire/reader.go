package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// readBufSize is the Reader's buffer: many small messages, or a few
// blocks, per read syscall.
const readBufSize = 64 << 10

// Reader decodes messages from a stream.
type Reader struct {
	r     io.Reader
	max   int
	buf   []byte
	start int    // first unconsumed byte
	end   int    // end of valid data
	big   []byte // messages larger than buf
	torn  bool   // a message larger than buf was cut short: its bytes are gone
	msgs  messages
}

// messages are the Reader's own structs, returned by pointer so decoding
// does not allocate.
type messages struct {
	keepAlive     KeepAlive
	choke         Choke
	unchoke       Unchoke
	interested    Interested
	notInterested NotInterested
	have          Have
	bitfield      Bitfield
	request       Request
	piece         Piece
	cancel        Cancel
	port          Port
	suggest       Suggest
	haveAll       HaveAll
	haveNone      HaveNone
	reject        Reject
	allowedFast   AllowedFast
	extended      Extended
	unknown       Unknown
}

// NewReader reads messages of at most maxMsgLen bytes (not counting the
// length prefix) from r.
func NewReader(r io.Reader, maxMsgLen int) *Reader {
	return &Reader{r: r, max: maxMsgLen, buf: make([]byte, readBufSize)}
}

// Next returns the next message. The message and any slice in it belong
// to the Reader and are valid only until the next call.
func (r *Reader) Next() (Message, error) {
	if err := r.fill(4); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(r.buf[r.start:]))
	if n == 0 {
		r.start += 4
		return &r.msgs.keepAlive, nil
	}
	if n > r.max {
		return nil, fmt.Errorf("message of %d bytes exceeds the limit of %d", n, r.max)
	}
	var body []byte
	if 4+n <= len(r.buf) {
		if err := r.fill(4 + n); err != nil {
			return nil, unexpected(err)
		}
		body = r.buf[r.start+4 : r.start+4+n]
		r.start += 4 + n
	} else {
		// Larger than the buffer: copy what is buffered, read the rest.
		if cap(r.big) < n {
			r.big = make([]byte, n)
		}
		body = r.big[:n]
		r.start += 4
		c := copy(body, r.buf[r.start:r.end])
		r.start += c
		if _, err := io.ReadFull(r.r, body[c:]); err != nil {
			r.torn = true
			return nil, unexpected(err)
		}
	}
	return r.decode(MessageID(body[0]), body[1:])
}

// Buffered is what the Reader has read from its source beyond the
// messages it returned, the start of a message cut short by an error
// included, for another reader to go on with the stream after an error
// such as a deadline. ok is false when a message larger than the buffer
// was cut short: part of the stream is lost.
func (r *Reader) Buffered() (b []byte, ok bool) {
	return r.buf[r.start:r.end], !r.torn
}

// fill makes at least n bytes available at r.start.
func (r *Reader) fill(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	for r.end < n {
		k, err := r.r.Read(r.buf[r.end:])
		r.end += k
		if err != nil {
			if r.end >= n {
				return nil
			}
			if err == io.EOF && r.end > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) decode(id MessageID, p []byte) (Message, error) {
	m := &r.msgs
	switch id {
	case IDChoke, IDUnchoke, IDInterested, IDNotInterested, IDHaveAll, IDHaveNone:
		if len(p) != 0 {
			return nil, badLen(id, len(p))
		}
		return r.decodeBare(id), nil
	case IDHave, IDSuggest, IDAllowedFast:
		if len(p) != 4 {
			return nil, badLen(id, len(p))
		}
		return r.decodeIndex(id, binary.BigEndian.Uint32(p)), nil
	case IDRequest, IDCancel, IDReject:
		if len(p) != 12 {
			return nil, badLen(id, len(p))
		}
		return r.decodeBlockRef(id, binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint32(p[8:])), nil
	case IDPiece:
		if len(p) < 8 {
			return nil, badLen(id, len(p))
		}
		m.piece = Piece{Index: binary.BigEndian.Uint32(p), Begin: binary.BigEndian.Uint32(p[4:]), Data: p[8:]}
		return &m.piece, nil
	case IDBitfield:
		m.bitfield.Bits = p
		return &m.bitfield, nil
	case IDPort:
		if len(p) != 2 {
			return nil, badLen(id, len(p))
		}
		m.port.Port = binary.BigEndian.Uint16(p)
		return &m.port, nil
	case IDExtended:
		if len(p) < 1 {
			return nil, badLen(id, len(p))
		}
		m.extended = Extended{ExtID: p[0], Payload: p[1:]}
		return &m.extended, nil
	}
	m.unknown = Unknown{MsgID: id, Payload: p}
	return &m.unknown, nil
}

// decodeBare returns the reused message of an ID without a payload.
func (r *Reader) decodeBare(id MessageID) Message {
	m := &r.msgs
	switch id {
	case IDChoke:
		return &m.choke
	case IDUnchoke:
		return &m.unchoke
	case IDInterested:
		return &m.interested
	case IDNotInterested:
		return &m.notInterested
	case IDHaveAll:
		return &m.haveAll
	default:
		return &m.haveNone
	}
}

// decodeIndex fills the reused message of an ID whose payload is a piece index.
func (r *Reader) decodeIndex(id MessageID, v uint32) Message {
	m := &r.msgs
	switch id {
	case IDHave:
		m.have.Index = v
		return &m.have
	case IDSuggest:
		m.suggest.Index = v
		return &m.suggest
	default:
		m.allowedFast.Index = v
		return &m.allowedFast
	}
}

// decodeBlockRef fills the reused message of an ID that names a block.
func (r *Reader) decodeBlockRef(id MessageID, i, b, l uint32) Message {
	m := &r.msgs
	switch id {
	case IDRequest:
		m.request = Request{i, b, l}
		return &m.request
	case IDCancel:
		m.cancel = Cancel{i, b, l}
		return &m.cancel
	default:
		m.reject = Reject{i, b, l}
		return &m.reject
	}
}

func badLen(id MessageID, n int) error {
	return fmt.Errorf("%s message with a payload of %d bytes", id, n)
}
