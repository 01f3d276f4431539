package metainfo_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/torrent-dev/torrent/host/metainfo"
)

func ExampleCreate() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "album"), 0o755)
	os.WriteFile(filepath.Join(dir, "album", "track1"), make([]byte, 40000), 0o644)
	os.WriteFile(filepath.Join(dir, "album", "track2"), make([]byte, 1000), 0o644)

	data, _ := metainfo.Create(filepath.Join(dir, "album"), metainfo.CreateOptions{PieceLength: 16 << 10})
	m, _ := metainfo.Parse(data)
	fmt.Println(m.Info.Name, m.Info.Length, m.Info.NumPieces())
	for _, f := range m.Info.Files {
		fmt.Println(m.Info.RelPath(f), f.Offset, f.Length)
	}
	// Output:
	// album 41000 3
	// album/track1 0 40000
	// album/track2 40000 1000
}
