package selection

import (
	"slices"
	"strings"
	"testing"
)

// A Selection read back from Marshal skips the same files and gives the
// same priorities, also to a skipped file; its pieces are the same.
func TestSavedRoundTrip(t *testing.T) {
	t.Parallel()
	info := testInfo() // files: a, sub/b.bin, sub/deep/c.bin, d.txt, e.bin
	var s *Selection
	if got := string(s.Marshal(info)); got != savedMagic+"nnnnn\n" {
		t.Fatalf("every file at normal: %q", got)
	}
	if back, err := Unmarshal(info, s.Marshal(info)); err != nil || back != nil {
		t.Fatalf("every file at normal read back as %v, %v; want nil", back, err)
	}
	for _, c := range []struct {
		file int
		skip bool
		prio Priority
	}{{0, true, High}, {2, false, Low}, {4, false, High}, {3, true, Normal}} {
		var err error
		if s, err = s.With(info, c.file, c.skip, c.prio); err != nil {
			t.Fatal(err)
		}
	}
	b := s.Marshal(info)
	if got := string(b); got != savedMagic+"HnlNh\n" {
		t.Fatalf("Marshal: %q", got)
	}
	back, err := Unmarshal(info, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range info.Files {
		if back.Skips(info, f) != s.Skips(info, f) || back.Priority(info, f) != s.Priority(info, f) {
			t.Errorf("%v: skipped %v priority %v, want %v %v", f.Path, back.Skips(info, f), back.Priority(info, f), s.Skips(info, f), s.Priority(info, f))
		}
	}
	n := info.NumPieces()
	if !slices.Equal(setOf(back.Pieces(n)), setOf(s.Pieces(n))) || !slices.Equal(setOf(back.High()), setOf(s.High())) ||
		!slices.Equal(setOf(back.Low()), setOf(s.Low())) {
		t.Errorf("pieces read back: wanted %v high %v low %v; want %v %v %v", setOf(back.Pieces(n)), setOf(back.High()),
			setOf(back.Low()), setOf(s.Pieces(n)), setOf(s.High()), setOf(s.Low()))
	}
}

// What is not a saved selection for this torrent is an error naming the
// fault, never a Selection.
func TestSavedRefused(t *testing.T) {
	t.Parallel()
	info := testInfo()
	for in, want := range map[string]string{
		"":                          "not a saved file selection",
		"garbage":                   "not a saved file selection",
		savedMagic + "nnnnn":        "of 5 files for a torrent of 5", // no newline
		savedMagic + "nnnn\n":       "of 4 files for a torrent of 5",
		savedMagic + "nnnnnn\n":     "of 6 files for a torrent of 5",
		savedMagic + "nnxnn\n":      `with 'x' for file 2`,
		savedMagic + "nn\x00nn\n":   `with '\x00' for file 2`,
		savedMagic + "NNNNN\n":      ErrNothingLeft.Error(),
		"torrent-selection 2 nnnnn": "not a saved file selection",
	} {
		s, err := Unmarshal(info, []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || s != nil {
			t.Errorf("Unmarshal(%q) = %v, %v; want an error with %q", in, s, err, want)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	info := testInfo()
	f.Add([]byte(savedMagic + "HnlNh\n"))
	f.Add([]byte(savedMagic + "nnnnn\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Unmarshal(info, b)
		if err != nil {
			return
		}
		if again, err := Unmarshal(info, s.Marshal(info)); err != nil {
			t.Fatalf("a selection read from %q does not read back: %v", b, err)
		} else if string(again.Marshal(info)) != string(s.Marshal(info)) {
			t.Fatalf("%q: Marshal not stable", b)
		}
	})
}
