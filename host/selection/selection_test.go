package selection

import (
	"slices"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// testInfo: name "t", pieces of 10 bytes; a (15) | pad (5) | sub/b.bin (10)
// | sub/deep/c.bin (7) | d.txt (0) | e.bin (3).
func testInfo() *metainfo.Info {
	info := &metainfo.Info{Name: "t", PieceLength: 10, MultiFile: true}
	for _, e := range []struct {
		path string
		n    int64
		pad  bool
	}{{"a", 15, false}, {".pad/5", 5, true}, {"sub/b.bin", 10, false}, {"sub/deep/c.bin", 7, false}, {"d.txt", 0, false}, {"e.bin", 3, false}} {
		f := metainfo.File{Path: strings.Split(e.path, "/"), Length: e.n, Offset: info.Length, Pad: e.pad}
		info.Extents = append(info.Extents, f)
		if !e.pad {
			info.Files = append(info.Files, f)
		}
		info.Length += e.n
	}
	info.Pieces = make([][20]byte, (info.Length+9)/10)
	return info
}

func TestSelection(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		only, skip []string
		chosen     []string
		pieces     []int
		err        string
	}{
		"only one":           {only: []string{"sub/b.bin"}, chosen: []string{"sub/b.bin"}, pieces: []int{2}},
		"only with name":     {only: []string{"t/a"}, chosen: []string{"a"}, pieces: []int{0, 1}},
		"directory":          {only: []string{"sub"}, chosen: []string{"sub/b.bin", "sub/deep/c.bin"}, pieces: []int{2, 3}},
		"no slash any depth": {only: []string{"*.bin"}, chosen: []string{"sub/b.bin", "sub/deep/c.bin", "e.bin"}, pieces: []int{2, 3}},
		"double star":        {only: []string{"**/deep/*"}, chosen: []string{"sub/deep/c.bin"}, pieces: []int{3}},
		"star one level":     {only: []string{"sub/*.bin"}, chosen: []string{"sub/b.bin"}, pieces: []int{2}},
		"skip":               {skip: []string{"sub/**", "a"}, chosen: []string{"d.txt", "e.bin"}, pieces: []int{3}},
		"only and skip":      {only: []string{"sub"}, skip: []string{"c.bin"}, chosen: []string{"sub/b.bin"}, pieces: []int{2}},
		"repeated only":      {only: []string{"a", "e.bin"}, chosen: []string{"a", "e.bin"}, pieces: []int{0, 1, 3}},
		"no match":           {only: []string{"a", "nothing*"}, err: `-only "nothing*" matches no file`},
		"skip no match":      {skip: []string{"x"}, err: `-skip "x" matches no file`},
		"pads are no files":  {only: []string{".pad"}, err: "matches no file"},
		"bad pattern":        {only: []string{"[a"}, err: `-only "[a"`},
		"nothing left":       {only: []string{"a"}, skip: []string{"a"}, err: "no file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			info := testInfo()
			s, err := New(info, tc.only, tc.skip)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var chosen []string
			for _, f := range info.Files {
				if !s.Skips(info, f) {
					chosen = append(chosen, strings.Join(f.Path, "/"))
				}
			}
			if !slices.Equal(chosen, tc.chosen) {
				t.Errorf("chosen %v, want %v", chosen, tc.chosen)
			}
			var pieces []int
			for i := range info.NumPieces() {
				if s.Wanted().Has(i) {
					pieces = append(pieces, i)
				}
			}
			if !slices.Equal(pieces, tc.pieces) {
				t.Errorf("pieces %v, want %v", pieces, tc.pieces)
			}
			have := bitfield.New(info.NumPieces())
			have.Set(tc.pieces[0])
			if got := s.Missing(have); got != len(tc.pieces)-1 || s.Pieces(info.NumPieces()).Count() != len(tc.pieces) {
				t.Errorf("Missing %d with piece %d had, want %d", got, tc.pieces[0], len(tc.pieces)-1)
			}
		})
	}
}

func TestNoPatternsChooseAll(t *testing.T) {
	t.Parallel()
	info := testInfo()
	s, err := New(info, nil, nil)
	have := bitfield.New(info.NumPieces())
	have.Set(1)
	if err != nil || s != nil || s.Skips(info, info.Files[0]) || s.Wanted().Len() != 0 || s.Missing(have) != 3 || !s.Pieces(4).Full() {
		t.Fatalf("New with no patterns: %v, %v", s, err)
	}
}
