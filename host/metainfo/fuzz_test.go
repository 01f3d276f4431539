package metainfo

import (
	"crypto/sha1"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add(torrentWith(f, multi(file(10, "a"), file(0, "b", "empty"), file(23, "b", "c"))))
	f.Add(torrentWith(f, map[string]any{"name": "a", "piece length": int64(16), "pieces": strings.Repeat("x", 40), "length": int64(17)}))
	f.Add([]byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:xxxxxxxxxxxxxxxxxxxxee"))
	f.Add([]byte("d4:info"))
	f.Add(torrentWith(f, multi(file(10, "a"), pad(6), file(16, "b"), pad(16))))
	f.Add([]byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:xxxxxxxxxxxxxxxxxxxxe8:url-list10:http://h/ae"))
	f.Add([]byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:xxxxxxxxxxxxxxxxxxxxe8:url-listl10:http://h/ai1el0e6:ftp://ee"))
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
		for _, u := range m.WebSeeds() {
			if !UsableWebSeed(u) {
				t.Fatalf("unusable web seed %q listed", u)
			}
		}
		if int64(m.Info.NumPieces()) != (m.Info.Length+m.Info.PieceLength-1)/m.Info.PieceLength {
			t.Fatal("piece count does not match the length")
		}
		// Extents (pads included) tile the torrent; Files are those
		// that are not pads.
		var off int64
		files := 0
		for _, e := range m.Info.Extents {
			if e.Offset != off || e.Length < 0 {
				t.Fatalf("extent %v at %d+%d, want offset %d", e.Path, e.Offset, e.Length, off)
			}
			off += e.Length
			if !e.Pad {
				if m.Info.Files[files].Offset != e.Offset {
					t.Fatal("Files is not Extents without the pads")
				}
				files++
			}
		}
		if off != m.Info.Length || files != len(m.Info.Files) {
			t.Fatalf("extents cover %d of %d bytes; %d files of %d", off, m.Info.Length, files, len(m.Info.Files))
		}
	})
}

// Whatever FromInfo accepts is a torrent whose info-hash is the SHA-1 of
// the bytes it was given: what the magnet fetch verified.
func FuzzFromInfo(f *testing.F) {
	f.Add([]byte("d6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:xxxxxxxxxxxxxxxxxxxxe"))
	f.Add([]byte("dee"))
	f.Fuzz(func(t *testing.T, info []byte) {
		data, mi, err := FromInfo(info, []string{"udp://127.0.0.1:1"})
		if err != nil {
			return
		}
		if mi.InfoHash != sha1.Sum(info) {
			t.Fatalf("info-hash %x is not the SHA-1 of the info given", mi.InfoHash)
		}
		if again, err := Parse(data); err != nil || again.InfoHash != mi.InfoHash {
			t.Fatalf("written torrent does not parse back: %v", err)
		}
	})
}
