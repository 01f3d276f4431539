package dht

import (
	"bytes"
	"net/netip"
	"testing"
)

func sampleFile() nodesFile {
	return nodesFile{ID: [20]byte{7, 7, 7}, Nodes: []savedNode{
		{ID: [20]byte{1}, Addr: netip.MustParseAddrPort("127.0.0.1:6881")},
		{ID: [20]byte{2}, Addr: netip.MustParseAddrPort("[2001:db8::1]:51413")},
	}}
}

func TestNodesFileRoundTrip(t *testing.T) {
	b := encodeNodesFile(sampleFile())
	f, err := decodeNodesFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != sampleFile().ID || len(f.Nodes) != 2 || f.Nodes[0] != sampleFile().Nodes[0] || f.Nodes[1] != sampleFile().Nodes[1] {
		t.Errorf("decoded %+v", f)
	}
}

func TestNodesFileRejects(t *testing.T) {
	good := encodeNodesFile(sampleFile())
	cases := map[string][]byte{
		"empty":         nil,
		"not ours":      []byte("d5:nodes0:e"),
		"version":       append([]byte("TDHT\x02"), good[5:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(bytes.Clone(good), 0),
		"family":        bytes.Replace(bytes.Clone(good), []byte{4, 127, 0, 0, 1}, []byte{5, 127, 0, 0, 1}, 1),
		"port 0":        bytes.Replace(bytes.Clone(good), []byte{127, 0, 0, 1, 0x1a, 0xe1}, []byte{127, 0, 0, 1, 0, 0}, 1),
		"4 in 6":        append(append(append([]byte("TDHT\x01"), make([]byte, 20)...), 0, 1), append(make([]byte, 20), append([]byte{6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}, 0x1a, 0xe1)...)...),
		"too many":      append(append([]byte("TDHT\x01"), make([]byte, 20)...), 0xff, 0xff),
		"count too big": append(append([]byte("TDHT\x01"), make([]byte, 20)...), 0, 3),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if f, err := decodeNodesFile(b); err == nil {
				t.Errorf("accepted: %+v", f)
			}
		})
	}
}

// FuzzDecodeNodesFile: the file is from disk, so anything may be in it;
// decoding never panics, and whatever decodes encodes back to the same
// bytes (nothing is half-read).
func FuzzDecodeNodesFile(f *testing.F) {
	f.Add(encodeNodesFile(sampleFile()))
	f.Add(encodeNodesFile(nodesFile{}))
	f.Add([]byte("TDHT\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		nf, err := decodeNodesFile(b)
		if err != nil {
			return
		}
		if again := encodeNodesFile(nf); !bytes.Equal(again, b) {
			t.Fatalf("decoded %+v re-encodes to %x, not %x", nf, again, b)
		}
	})
}
