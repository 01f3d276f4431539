package wire

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestMetadataMsgRoundTrip(t *testing.T) {
	t.Parallel()
	last := bytes.Repeat([]byte{7}, 100)
	for name, m := range map[string]MetadataMsg{
		"request":    {Type: MetadataRequest, Piece: 3},
		"reject":     {Type: MetadataReject, Piece: 0},
		"data full":  {Type: MetadataData, Piece: 0, TotalSize: MetadataPieceSize + 100, Data: bytes.Repeat([]byte{1}, MetadataPieceSize)},
		"data last":  {Type: MetadataData, Piece: 1, TotalSize: MetadataPieceSize + 100, Data: last},
		"data alone": {Type: MetadataData, Piece: 0, TotalSize: 1, Data: []byte("d")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMetadataMsg(AppendMetadataMsg(nil, m))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("got %+v, want %+v", got, m)
			}
		})
	}
}

// The exact bytes BEP 9 shows, and libtorrent's key order.
func TestMetadataMsgBEPExamples(t *testing.T) {
	t.Parallel()
	if got := string(AppendMetadataMsg(nil, MetadataMsg{Type: MetadataRequest})); got != "d8:msg_typei0e5:piecei0ee" {
		t.Fatalf("request encodes as %q", got)
	}
	data := append([]byte("d8:msg_typei1e5:piecei0e10:total_sizei3ee"), "abc"...)
	m, err := ParseMetadataMsg(data)
	if err != nil || m.Type != MetadataData || string(m.Data) != "abc" || m.TotalSize != 3 {
		t.Fatalf("got %+v, %v", m, err)
	}
}

func TestMetadataMsgErrors(t *testing.T) {
	t.Parallel()
	full := strings.Repeat("x", MetadataPieceSize)
	for name, tc := range map[string]struct{ in, says string }{
		"not bencode":       {"hello", "ut_metadata"},
		"no type":           {"d5:piecei0ee", "msg_type -1"},
		"unknown type":      {"d8:msg_typei3e5:piecei0ee", "msg_type 3"},
		"no piece":          {"d8:msg_typei0ee", "piece -1 out of range"},
		"huge piece":        {"d8:msg_typei0e5:piecei1920ee", "piece 1920 out of range"},
		"trailing request":  {"d8:msg_typei0e5:piecei0eexx", "2 bytes after"},
		"no total":          {"d8:msg_typei1e5:piecei0eeabc", "total_size 0"},
		"total too big":     {"d8:msg_typei1e5:piecei0e10:total_sizei31457281ee", "total_size 31457281"},
		"short piece":       {"d8:msg_typei1e5:piecei0e10:total_sizei20000eeabc", "piece 0 of 3 bytes, want 16384"},
		"long last":         {"d8:msg_typei1e5:piecei0e10:total_sizei2eeabc", "want 2"},
		"piece past end":    {"d8:msg_typei1e5:piecei1e10:total_sizei16384ee" + full, "want 0"},
		"piece as a string": {"d8:msg_type1:05:piecei0ee", "ut_metadata"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseMetadataMsg([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want one that says %q", err, tc.says)
			}
		})
	}
}

func TestMetadataSizes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ size, pieces, lastLen int }{
		{1, 1, 1}, {MetadataPieceSize, 1, MetadataPieceSize}, {MetadataPieceSize + 1, 2, 1}, {MaxMetadataSize, MaxMetadataPieces, MetadataPieceSize},
	} {
		if n := NumMetadataPieces(tc.size); n != tc.pieces {
			t.Errorf("NumMetadataPieces(%d) = %d, want %d", tc.size, n, tc.pieces)
		}
		if l := MetadataPieceLen(tc.size, tc.pieces-1); l != tc.lastLen {
			t.Errorf("last piece of %d is %d bytes, want %d", tc.size, l, tc.lastLen)
		}
		if l := MetadataPieceLen(tc.size, tc.pieces); l != 0 {
			t.Errorf("piece past the end of %d is %d bytes", tc.size, l)
		}
	}
	for _, bad := range []int{0, -1, MaxMetadataSize + 1} {
		if CheckMetadataSize(bad) == nil {
			t.Errorf("metadata_size %d accepted", bad)
		}
	}
}
