package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// cutReader gives its data, then fails with err: a stream whose read
// ended on a deadline.
type cutReader struct {
	data []byte
	err  error
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errCut = errors.New("deadline")

// A stream cut in the middle of a message: Buffered has what was read of
// it, and a new Reader over Buffered and the rest of the stream goes on
// where the first stopped.
func TestReaderBufferedGoesOn(t *testing.T) {
	have := Have{Index: 9}
	ext := Extended{ExtID: 0, Payload: []byte("d1:md11:ut_metadatai3eee")}
	stream := AppendMessage(AppendMessage(nil, have), ext)
	cut := len(AppendMessage(nil, have)) + 6 // the length, the ID and a byte of the extension message
	r := NewReader(&cutReader{data: stream[:cut], err: errCut}, 1<<20)
	if m, err := r.Next(); err != nil || !reflect.DeepEqual(deref(m), have) {
		t.Fatalf("first message: %v, %v", m, err)
	}
	if _, err := r.Next(); !errors.Is(err, errCut) {
		t.Fatalf("cut message: %v, want the stream's error", err)
	}
	rest, ok := r.Buffered()
	if !ok || !bytes.Equal(rest, stream[len(AppendMessage(nil, have)):cut]) {
		t.Fatalf("Buffered: %q, %v", rest, ok)
	}
	again := NewReader(io.MultiReader(bytes.NewReader(rest), bytes.NewReader(stream[cut:])), 1<<20)
	m, err := again.Next()
	if err != nil {
		t.Fatal(err)
	}
	if x, isExt := m.(*Extended); !isExt || x.ExtID != 0 || !bytes.Equal(x.Payload, ext.Payload) {
		t.Fatalf("went on with %#v", m)
	}
}

// A message larger than the Reader's buffer, cut short, cannot be put
// back together: Buffered says so.
func TestReaderBufferedTornBigMessage(t *testing.T) {
	big := AppendMessage(nil, Bitfield{Bits: make([]byte, 2*readBufSize)})
	r := NewReader(&cutReader{data: big[:len(big)-10], err: errCut}, 1<<20)
	if _, err := r.Next(); !errors.Is(err, errCut) {
		t.Fatalf("cut message: %v, want the stream's error", err)
	}
	if _, ok := r.Buffered(); ok {
		t.Fatal("Buffered of a torn big message says the stream is whole")
	}
}
