package metainfo

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/internal/realpeers"
)

func pad(length int64) map[string]any {
	return map[string]any{"length": length, "path": []string{".pad", fmt.Sprint(length)}, "attr": "p"}
}

// BEP 47: pad files (several with the same path, one at the end) count in
// the torrent's length and offsets but are not files; x, h and l are kept
// as attributes of ordinary files.
func TestPadFilesAndAttributes(t *testing.T) {
	t.Parallel()
	exe := file(5, "bin", "run")
	exe["attr"] = "x"
	hidden := file(16, "h")
	hidden["attr"] = "h"
	link := file(0, "link")
	link["attr"] = "l"
	link["symlink path"] = []string{"..", "..", "etc", "passwd"}
	m, err := Parse(torrentWith(t, multi(exe, pad(11), hidden, link, file(3, "z"), pad(13))))
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info
	var got []string
	for _, f := range info.Files {
		got = append(got, fmt.Sprintf("%s@%d+%d:%s", strings.Join(f.Path, "/"), f.Offset, f.Length, f.Attr))
	}
	want := []string{"bin/run@0+5:x", "h@16+16:h", "link@32+0:l", "z@32+3:"}
	if !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if info.Length != 48 || info.DataLength() != 24 || len(info.Extents) != 6 || !info.Extents[1].Pad || !info.Extents[5].Pad || info.NumPieces() != 3 {
		t.Fatalf("length %d, %d extents, %d pieces", info.Length, len(info.Extents), info.NumPieces())
	}
	var sum int64
	for _, e := range info.Extents {
		if e.Offset != sum {
			t.Fatalf("extent %v at %d, want %d", e.Path, e.Offset, sum)
		}
		sum += e.Length
	}
}

// Pad files without attr p, known by their names as libtorrent knows
// them (BitComet's _____padding_file_*, an unmarked .pad/N), are pads
// too: never listed, never created, never asked of a web seed. A file
// that only looks similar is a file.
func TestPadFilesByName(t *testing.T) {
	t.Parallel()
	bitcomet := file(7, "sub", "_____padding_file_0_if you see this file, please update to BitComet 0.85 or above____")
	unmarked := file(9, ".pad", "9")
	m, err := Parse(torrentWith(t, multi(file(5, "a"), bitcomet, file(3, "sub", "b"), unmarked, file(4, "_padding_file_not"), file(2, ".pad", "x", "y"))))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range m.Info.Files {
		got = append(got, strings.Join(f.Path, "/"))
	}
	if want := []string{"a", "sub/b", "_padding_file_not", ".pad/x/y"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if m.Info.Length != 30 || m.Info.DataLength() != 14 || !m.Info.Extents[1].Pad || !m.Info.Extents[3].Pad {
		t.Fatalf("length %d, data length %d, extents %+v", m.Info.Length, m.Info.DataLength(), m.Info.Extents)
	}
}

// A hybrid torrent made by libtorrent 2.0's create_torrent: every file
// starts on a piece boundary, the pads are hidden, and the v1 part is used.
func TestLibtorrentHybrid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	realpeers.MakeData(t, dir)
	m, err := Load(realpeers.MakeLibtorrentTorrent(t, filepath.Join(dir, "tree"), realpeers.LTHybrid))
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info
	pads := 0
	for _, e := range info.Extents {
		if e.Pad {
			pads++
		}
	}
	if pads == 0 || len(info.Files) != len(realpeers.DefaultTree) {
		t.Fatalf("%d pads, %d files (want %d)", pads, len(info.Files), len(realpeers.DefaultTree))
	}
	for _, f := range info.Files {
		if strings.HasPrefix(info.RelPath(f), "tree/.pad") {
			t.Errorf("pad file %s listed", info.RelPath(f))
		}
		if f.Length > 0 && f.Offset%info.PieceLength != 0 {
			t.Errorf("%s starts at %d, inside a piece of %d", info.RelPath(f), f.Offset, info.PieceLength)
		}
	}
	if last := info.Extents[len(info.Extents)-1]; !last.Pad || info.Length%info.PieceLength != 0 {
		t.Errorf("no tail pad: last extent %+v, length %d", last, info.Length)
	}
}
