package selection

import (
	"errors"
	"slices"
	"testing"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

func setOf(b bitfield.Bitfield) []int {
	var out []int
	for i := range b.Len() {
		if b.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

// With changes one file at a time, shares pieces by the highest priority
// of their files and leaves the Selection it was called on alone.
func TestWith(t *testing.T) {
	t.Parallel()
	info := testInfo() // files: a, sub/b.bin, sub/deep/c.bin, d.txt, e.bin
	type change struct {
		file int
		skip bool
		prio Priority
	}
	tests := map[string]struct {
		changes          []change
		wanted, high, lo []int
	}{
		"skip a":             {changes: []change{{0, true, Normal}}, wanted: []int{2, 3}},
		"b high":             {changes: []change{{1, false, High}}, wanted: []int{0, 1, 2, 3}, high: []int{2}},
		"c low, e normal":    {changes: []change{{2, false, Low}}, wanted: []int{0, 1, 2, 3}},
		"c and e low":        {changes: []change{{2, false, Low}, {4, false, Low}}, wanted: []int{0, 1, 2, 3}, lo: []int{3}},
		"c low, e high":      {changes: []change{{2, false, Low}, {4, false, High}}, wanted: []int{0, 1, 2, 3}, high: []int{3}},
		"e skipped, c low":   {changes: []change{{4, true, Normal}, {2, false, Low}}, wanted: []int{0, 1, 2, 3}, lo: []int{3}},
		"skip, choose again": {changes: []change{{0, true, Normal}, {0, false, Normal}}, wanted: []int{0, 1, 2, 3}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var s *Selection
			for _, c := range tc.changes {
				prev := s
				prevWanted := setOf(prev.Pieces(info.NumPieces()))
				n, err := s.With(info, c.file, c.skip, c.prio)
				if err != nil {
					t.Fatal(err)
				}
				if got := setOf(prev.Pieces(info.NumPieces())); !slices.Equal(got, prevWanted) {
					t.Fatalf("With changed the Selection it was called on: %v, was %v", got, prevWanted)
				}
				if n.Skips(info, info.Files[c.file]) != c.skip || n.Priority(info, info.Files[c.file]) != c.prio {
					t.Fatalf("file %d: skipped %v priority %s after %+v", c.file, n.Skips(info, info.Files[c.file]), n.Priority(info, info.Files[c.file]), c)
				}
				s = n
			}
			if got := setOf(s.Wanted()); !slices.Equal(got, tc.wanted) {
				t.Errorf("wanted %v, want %v", got, tc.wanted)
			}
			if got := setOf(s.High()); !slices.Equal(got, tc.high) {
				t.Errorf("high %v, want %v", got, tc.high)
			}
			if got := setOf(s.Low()); !slices.Equal(got, tc.lo) {
				t.Errorf("low %v, want %v", got, tc.lo)
			}
		})
	}
}

func TestWithRefuses(t *testing.T) {
	t.Parallel()
	info := testInfo()
	var s *Selection
	if _, err := s.With(info, len(info.Files), true, Normal); err == nil {
		t.Error("a file past the end accepted")
	}
	if _, err := s.With(info, 0, false, 2); err == nil {
		t.Error("priority 2 accepted")
	}
	for i := range info.Files[:len(info.Files)-1] {
		var err error
		if s, err = s.With(info, i, true, Normal); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.With(info, len(info.Files)-1, true, Normal); !errors.Is(err, ErrNothingLeft) {
		t.Errorf("skipping the last chosen file: %v, want ErrNothingLeft", err)
	}
}
