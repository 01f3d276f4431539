package swarm

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
)

// copyMsg turns each message the wire reader decodes into one flat
// inMsg, detached from the reader's buffer, without allocating for the
// fixed-size ones.
func TestCopyMsg(t *testing.T) {
	data := bytes.Repeat([]byte{7}, blockSize)
	msgs := []wire.Message{
		wire.Have{Index: 3}, wire.Request{Index: 1, Begin: 2, Length: 3}, wire.Cancel{Index: 4, Begin: 5, Length: 6},
		wire.Reject{Index: 7, Begin: 8, Length: 9}, wire.Piece{Index: 10, Begin: blockSize, Data: data},
		wire.Bitfield{Bits: []byte{0xa0}}, wire.Extended{ExtID: 2, Payload: []byte("xy")}, wire.Choke{},
		wire.KeepAlive{},
	}
	want := []inMsg{
		{id: wire.IDHave, index: 3}, {id: wire.IDRequest, index: 1, begin: 2, length: 3},
		{id: wire.IDCancel, index: 4, begin: 5, length: 6}, {id: wire.IDReject, index: 7, begin: 8, length: 9},
		{id: wire.IDPiece, index: 10, begin: blockSize, block: data}, {id: wire.IDBitfield, bytes: []byte{0xa0}},
		{id: wire.IDExtended, extID: 2, bytes: []byte("xy")}, {id: wire.IDChoke}, {id: wire.IDKeepAlive},
	}
	var stream []byte
	for _, m := range msgs {
		stream = wire.AppendMessage(stream, m)
	}
	r := wire.NewReader(bytes.NewReader(stream), 1<<20)
	var got []inMsg
	for range msgs {
		m, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, copyMsg(nil, m))
	}
	clear(stream) // what was copied out must not change
	for i, g := range got {
		w := want[i]
		if g.id != w.id || g.index != w.index || g.begin != w.begin || g.length != w.length || g.extID != w.extID ||
			!bytes.Equal(g.block, w.block) || !bytes.Equal(g.bytes, w.bytes) {
			t.Errorf("message %d (%v): got %+v, want %+v", i, msgs[i].ID(), g, w)
		}
	}
	req := &wire.Request{Index: 1, Begin: 2, Length: 3}
	if n := testing.AllocsPerRun(100, func() { _ = copyMsg(nil, req) }); n != 0 {
		t.Errorf("copyMsg of a request allocates %v times", n)
	}
}

// What the wire reader fails on is a protocol violation when the peer
// sent it (an oversized frame, a malformed message), and not when the
// connection ended or timed out: only the first backs the peer off.
func TestReadErrProtocol(t *testing.T) {
	next := func(stream []byte) error {
		_, err := wire.NewReader(bytes.NewReader(stream), 1<<10).Next()
		return err
	}
	c1, c2 := net.Pipe()
	c2.Close()
	_, closedErr := c1.Read(make([]byte, 1))
	c3, _ := net.Pipe()
	c3.SetReadDeadline(time.Now())
	_, timeoutErr := c3.Read(make([]byte, 1))
	for _, c := range []struct {
		name  string
		err   error
		fault bool
	}{
		{"oversized frame", next([]byte{0, 1, 0, 0, 0}), true},
		{"have of 2 bytes", next([]byte{0, 0, 0, 3, byte(wire.IDHave), 0, 0}), true},
		{"end of stream", next(nil), false},
		{"cut mid-message", next([]byte{0, 0, 0, 5, byte(wire.IDHave), 0}), false},
		{"closed", closedErr, false},
		{"read deadline", timeoutErr, false},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, false},
	} {
		if c.err == nil {
			t.Fatalf("%s: no error to classify", c.name)
		}
		if got := errors.Is(readErr(c.err), errProtocol); got != c.fault {
			t.Errorf("%s (%v): protocol violation %v, want %v", c.name, c.err, got, c.fault)
		}
	}
}
