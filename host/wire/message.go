// Package wire is the BitTorrent peer wire protocol's framing: the
// handshake, one type per message (BEP 3, the Fast extension of BEP 6, the
// extension protocol of BEP 10), a Reader that decodes a stream without
// allocating, and append-style encoders.
package wire

import (
	"encoding/binary"
	"fmt"
)

// MessageID is the byte after a message's length prefix.
type MessageID uint8

// Message IDs.
const (
	IDChoke         MessageID = 0
	IDUnchoke       MessageID = 1
	IDInterested    MessageID = 2
	IDNotInterested MessageID = 3
	IDHave          MessageID = 4
	IDBitfield      MessageID = 5
	IDRequest       MessageID = 6
	IDPiece         MessageID = 7
	IDCancel        MessageID = 8
	IDPort          MessageID = 9
	IDSuggest       MessageID = 0x0d
	IDHaveAll       MessageID = 0x0e
	IDHaveNone      MessageID = 0x0f
	IDReject        MessageID = 0x10
	IDAllowedFast   MessageID = 0x11
	IDExtended      MessageID = 20
	// IDKeepAlive stands for the zero-length message, which has no ID byte.
	IDKeepAlive MessageID = 0xff
)

var idNames = map[MessageID]string{
	IDChoke: "choke", IDUnchoke: "unchoke", IDInterested: "interested", IDNotInterested: "not interested",
	IDHave: "have", IDBitfield: "bitfield", IDRequest: "request", IDPiece: "piece", IDCancel: "cancel",
	IDPort: "port", IDSuggest: "suggest", IDHaveAll: "have all", IDHaveNone: "have none",
	IDReject: "reject", IDAllowedFast: "allowed fast", IDExtended: "extended", IDKeepAlive: "keep-alive",
}

func (id MessageID) String() string {
	if s, ok := idNames[id]; ok {
		return s
	}
	return fmt.Sprintf("message %d", uint8(id))
}

// Message is one peer wire message; the types below are all there are.
type Message interface{ ID() MessageID }

type (
	// KeepAlive is the zero-length message.
	KeepAlive struct{}
	// Choke: the sender will not serve requests.
	Choke struct{}
	// Unchoke: the sender serves requests.
	Unchoke struct{}
	// Interested: the sender wants pieces of the receiver.
	Interested struct{}
	// NotInterested: the sender wants nothing of the receiver.
	NotInterested struct{}
	// Have announces one more piece.
	Have struct{ Index uint32 }
	// Bitfield lists the sender's pieces, high bit of byte 0 first.
	Bitfield struct{ Bits []byte }
	// Request asks for a block.
	Request struct{ Index, Begin, Length uint32 }
	// Piece carries a block.
	Piece struct {
		Index, Begin uint32
		Data         []byte
	}
	// Cancel withdraws a request.
	Cancel struct{ Index, Begin, Length uint32 }
	// Port is the sender's DHT port.
	Port struct{ Port uint16 }
	// Suggest hints a piece to download (BEP 6).
	Suggest struct{ Index uint32 }
	// HaveAll replaces a full bitfield (BEP 6).
	HaveAll struct{}
	// HaveNone replaces an empty bitfield (BEP 6).
	HaveNone struct{}
	// Reject refuses a request (BEP 6).
	Reject struct{ Index, Begin, Length uint32 }
	// AllowedFast names a piece the sender serves even while choking (BEP 6).
	AllowedFast struct{ Index uint32 }
	// Extended is a BEP 10 message; ExtID 0 is the extension handshake.
	Extended struct {
		ExtID   uint8
		Payload []byte
	}
	// Unknown is a message of an ID this package does not know; it is
	// returned rather than refused so newer peers keep working.
	Unknown struct {
		MsgID   MessageID
		Payload []byte
	}
)

func (KeepAlive) ID() MessageID     { return IDKeepAlive }
func (Choke) ID() MessageID         { return IDChoke }
func (Unchoke) ID() MessageID       { return IDUnchoke }
func (Interested) ID() MessageID    { return IDInterested }
func (NotInterested) ID() MessageID { return IDNotInterested }
func (Have) ID() MessageID          { return IDHave }
func (Bitfield) ID() MessageID      { return IDBitfield }
func (Request) ID() MessageID       { return IDRequest }
func (Piece) ID() MessageID         { return IDPiece }
func (Cancel) ID() MessageID        { return IDCancel }
func (Port) ID() MessageID          { return IDPort }
func (Suggest) ID() MessageID       { return IDSuggest }
func (HaveAll) ID() MessageID       { return IDHaveAll }
func (HaveNone) ID() MessageID      { return IDHaveNone }
func (Reject) ID() MessageID        { return IDReject }
func (AllowedFast) ID() MessageID   { return IDAllowedFast }
func (Extended) ID() MessageID      { return IDExtended }
func (m Unknown) ID() MessageID     { return m.MsgID }

// AppendMessage appends m's encoding to dst; it allocates only when dst
// lacks capacity. A nil or unknown-typed message appends nothing.
func AppendMessage(dst []byte, m Message) []byte {
	switch m := deref(m).(type) {
	case KeepAlive:
		return binary.BigEndian.AppendUint32(dst, 0)
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return append(binary.BigEndian.AppendUint32(dst, 1), byte(m.ID()))
	case Have:
		return appendU32s(dst, IDHave, m.Index)
	case Suggest:
		return appendU32s(dst, IDSuggest, m.Index)
	case AllowedFast:
		return appendU32s(dst, IDAllowedFast, m.Index)
	case Request:
		return appendU32s(dst, IDRequest, m.Index, m.Begin, m.Length)
	case Cancel:
		return appendU32s(dst, IDCancel, m.Index, m.Begin, m.Length)
	case Reject:
		return appendU32s(dst, IDReject, m.Index, m.Begin, m.Length)
	case Port:
		dst = binary.BigEndian.AppendUint32(dst, 3)
		return binary.BigEndian.AppendUint16(append(dst, byte(IDPort)), m.Port)
	case Bitfield:
		dst = binary.BigEndian.AppendUint32(dst, uint32(1+len(m.Bits)))
		return append(append(dst, byte(IDBitfield)), m.Bits...)
	case Piece:
		return append(AppendPieceHeader(dst, m.Index, m.Begin, len(m.Data)), m.Data...)
	case Extended:
		dst = binary.BigEndian.AppendUint32(dst, uint32(2+len(m.Payload)))
		return append(append(dst, byte(IDExtended), m.ExtID), m.Payload...)
	case Unknown:
		dst = binary.BigEndian.AppendUint32(dst, uint32(1+len(m.Payload)))
		return append(append(dst, byte(m.MsgID)), m.Payload...)
	}
	return dst
}

// AppendPieceHeader appends the 13 bytes before a Piece message's n data
// bytes, so a block read from disk can follow in a vectored write.
func AppendPieceHeader(dst []byte, index, begin uint32, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(9+n))
	dst = append(dst, byte(IDPiece))
	dst = binary.BigEndian.AppendUint32(dst, index)
	return binary.BigEndian.AppendUint32(dst, begin)
}

func appendU32s(dst []byte, id MessageID, v ...uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+4*len(v)))
	dst = append(dst, byte(id))
	for _, x := range v {
		dst = binary.BigEndian.AppendUint32(dst, x)
	}
	return dst
}

// deref lets encoders take the Reader's pointers as well as values.
func deref(m Message) Message {
	switch p := m.(type) {
	case *KeepAlive:
		return *p
	case *Choke:
		return *p
	case *Unchoke:
		return *p
	case *Interested:
		return *p
	case *NotInterested:
		return *p
	case *Have:
		return *p
	case *Bitfield:
		return *p
	case *Request:
		return *p
	case *Piece:
		return *p
	case *Cancel:
		return *p
	case *Port:
		return *p
	case *Suggest:
		return *p
	case *HaveAll:
		return *p
	case *HaveNone:
		return *p
	case *Reject:
		return *p
	case *AllowedFast:
		return *p
	case *Extended:
		return *p
	case *Unknown:
		return *p
	}
	return m
}
