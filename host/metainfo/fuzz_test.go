package metainfo

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(torrentWith(f, multi(file(10, "a"), file(0, "b", "empty"), file(23, "b", "c"))))
	f.Add(torrentWith(f, map[string]any{"name": "a", "piece length": int64(16), "pieces": strings.Repeat("x", 40), "length": int64(17)}))
	f.Add([]byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:xxxxxxxxxxxxxxxxxxxxee"))
	f.Add([]byte("d4:info"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(in)
		if err != nil {
			return
		}
		for _, fl := range m.Info.Files {
			for _, c := range fl.Path {
				if checkComponent(c) != nil {
					t.Fatalf("accepted path component %q", c)
				}
			}
		}
		if int64(m.Info.NumPieces()) != (m.Info.Length+m.Info.PieceLength-1)/m.Info.PieceLength {
			t.Fatal("piece count does not match the length")
		}
	})
}
