// Package selection chooses which files of a torrent to fetch (-only and
// -skip) and says which pieces that makes wanted.
//
// A pattern is a glob over the file's path inside the torrent, with /
// between components: * ? and [...] match within one component (as
// path.Match), ** matches any number of whole components. A pattern that
// matches a directory matches every file under it. A pattern without a /
// matches at any depth, by the name of a file or of a directory on its
// path (as in .gitignore). The path may also be written with the
// torrent's name in front, as `torrent info` lists it.
package selection

import (
	"fmt"
	"path"
	"strings"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Selection is the files chosen and the pieces they need. The nil
// Selection chooses every file.
type Selection struct {
	skipped map[string]bool     // by path inside the torrent
	prio    map[string]Priority // by path; absent: Normal (change.go)
	wanted  bitfield.Bitfield
	// high and low are the wanted pieces of high and low priority; zero
	// Bitfields until With sets a priority.
	high, low bitfield.Bitfield
}

// New chooses the files of info: those that match an -only pattern (every
// file when there is none) and no -skip pattern. A pattern that matches no
// file, or a bad one, is an error naming it; so is choosing nothing. With
// no patterns at all it returns nil.
func New(info *metainfo.Info, only, skip []string) (*Selection, error) {
	if len(only) == 0 && len(skip) == 0 {
		return nil, nil
	}
	onlyHit, err := matches(info, "-only", only)
	if err != nil {
		return nil, err
	}
	skipHit, err := matches(info, "-skip", skip)
	if err != nil {
		return nil, err
	}
	return choose(info, func(i int) bool { return (len(only) == 0 || onlyHit[i]) && !skipHit[i] },
		fmt.Sprintf("-only %s -skip %s", strings.Join(only, ","), strings.Join(skip, ",")))
}

// Indices chooses the files whose index in the torrent's file list (pad
// files counted, as BEP 53's so= in a magnet link numbers them) chosen
// says. With every file chosen it returns nil.
func Indices(info *metainfo.Info, chosen func(index int) bool) (*Selection, error) {
	byFile := make([]bool, 0, len(info.Files))
	all := true
	for k, f := range info.Extents {
		if !f.Pad {
			byFile = append(byFile, chosen(k))
			all = all && chosen(k)
		}
	}
	if all {
		return nil, nil
	}
	return choose(info, func(i int) bool { return byFile[i] }, "the magnet link's so=")
}

// choose makes the Selection of the files (by index in info.Files) that
// chosen says; what names the choice in an error.
func choose(info *metainfo.Info, chosen func(i int) bool, what string) (*Selection, error) {
	s := &Selection{skipped: map[string]bool{}, wanted: bitfield.New(info.NumPieces())}
	n := 0
	for i, f := range info.Files {
		if !chosen(i) {
			s.skipped[inner(info, f)] = true
			continue
		}
		n++
		first, last := info.PieceRange(f.Offset, f.Length)
		for p := first; p <= last; p++ {
			s.wanted.Set(p)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%s leave no file to fetch", what)
	}
	return s, nil
}

// matches says which files (by index in info.Files) some pattern matches.
func matches(info *metainfo.Info, flag string, patterns []string) ([]bool, error) {
	hit := make([]bool, len(info.Files))
	for _, p := range patterns {
		pat, err := compile(p)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v", flag, p, err)
		}
		found := false
		for i, f := range info.Files {
			comps := strings.Split(inner(info, f), "/")
			if pat.match(comps) || pat.match(append([]string{info.Name}, comps...)) {
				hit[i], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s %q matches no file in the torrent", flag, p)
		}
	}
	return hit, nil
}

// inner is f's path inside the torrent: for a single-file torrent, its name.
func inner(info *metainfo.Info, f metainfo.File) string {
	if !info.MultiFile {
		return info.Name
	}
	return strings.Join(f.Path, "/")
}

// Skips reports whether f is not chosen.
func (s *Selection) Skips(info *metainfo.Info, f metainfo.File) bool {
	return s != nil && !f.Pad && s.skipped[inner(info, f)]
}

// Wanted is the pieces that hold bytes of chosen files; the zero
// Bitfield (every piece) for the nil Selection. The caller must not
// modify it.
func (s *Selection) Wanted() bitfield.Bitfield {
	if s == nil {
		return bitfield.Bitfield{}
	}
	return s.wanted
}

// Pieces is Wanted as a bitfield of n pieces, all set for the nil
// Selection.
func (s *Selection) Pieces(n int) bitfield.Bitfield {
	if s == nil {
		b := bitfield.New(n)
		b.SetAll()
		return b
	}
	return s.wanted.Clone()
}

// Missing is how many wanted pieces have lacks.
func (s *Selection) Missing(have bitfield.Bitfield) int {
	if s == nil {
		return have.Len() - have.Count()
	}
	n := 0
	for i := range have.Len() {
		if s.wanted.Has(i) && !have.Has(i) {
			n++
		}
	}
	return n
}

type pattern []string

func compile(p string) (pattern, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	comps := strings.Split(p, "/")
	for _, c := range comps {
		if _, err := path.Match(c, ""); err != nil {
			return nil, err
		}
	}
	if len(comps) == 1 && comps[0] != "**" {
		comps = []string{"**", comps[0]} // no slash: at any depth
	}
	return comps, nil
}

// match reports whether the pattern matches comps or a directory on its
// way (a prefix of comps).
func (pat pattern) match(comps []string) bool {
	for k := 1; k <= len(comps); k++ {
		if matchComps(pat, comps[:k]) {
			return true
		}
	}
	return false
}

func matchComps(pat, comps []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for k := 0; k <= len(comps); k++ {
				if matchComps(pat[1:], comps[k:]) {
					return true
				}
			}
			return false
		}
		if len(comps) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], comps[0]); !ok {
			return false
		}
		pat, comps = pat[1:], comps[1:]
	}
	return len(comps) == 0
}
