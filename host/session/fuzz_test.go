package session

import (
	"bytes"
	"crypto/sha1"
	"testing"

	"github.com/torrent-dev/torrent/host/metainfo"
)

// The saved metadata of a magnet link is read back from disk, where it
// may be damaged or another torrent's: parseSaved must refuse anything
// that is not a torrent of the info-hash it is saved under, and never
// panic.
func FuzzParseSaved(f *testing.F) {
	info := []byte("d6:lengthi17e4:name1:a12:piece lengthi16e6:pieces40:" + string(bytes.Repeat([]byte("x"), 40)) + "e")
	good, _, err := metainfo.FromInfo(info, []string{"http://127.0.0.1:1/announce"})
	if err != nil {
		f.Fatal(err)
	}
	want := sha1.Sum(info)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:xxxxxxxxxxxxxxxxxxxxee"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := parseSaved(in, want)
		if err != nil {
			return
		}
		raw, err := metainfo.RawInfo(in)
		if err != nil || sha1.Sum(raw) != want || m.InfoHash != want {
			t.Fatalf("accepted a file whose info dictionary does not hash to %x (%v)", want, err)
		}
	})
}
