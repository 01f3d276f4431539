package selection

import (
	"errors"
	"fmt"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Priority is a file's place in the queue: its pieces are fetched before
// those of lower priority (the swarm's downloader, host/swarm/choose.go).
type Priority int8

// The priorities a file can have; Normal is the default.
const (
	Low    Priority = -1
	Normal Priority = 0
	High   Priority = 1
)

func (p Priority) String() string {
	switch p {
	case Low:
		return "low"
	case High:
		return "high"
	}
	return "normal"
}

// ErrNothingLeft refuses a change that would leave no file chosen.
var ErrNothingLeft = errors.New("at least one file must stay chosen")

// With is s with file i (an index in info.Files) chosen or skipped and at
// priority p. s is not modified (readers may hold it), and the nil
// Selection is every file at Normal.
func (s *Selection) With(info *metainfo.Info, i int, skip bool, p Priority) (*Selection, error) {
	if i < 0 || i >= len(info.Files) {
		return nil, fmt.Errorf("no file %d: the torrent has %d", i, len(info.Files))
	}
	if p < Low || p > High {
		return nil, fmt.Errorf("priority %d: not low (-1), normal (0) or high (1)", p)
	}
	skipped, prio := map[string]bool{}, map[string]Priority{}
	if s != nil {
		for k, v := range s.skipped {
			skipped[k] = v
		}
		for k, v := range s.prio {
			prio[k] = v
		}
	}
	key := inner(info, info.Files[i])
	delete(skipped, key)
	if skip {
		skipped[key] = true
	}
	delete(prio, key)
	if p != Normal {
		prio[key] = p
	}
	return build(info, skipped, prio)
}

// build is the Selection that skips the files in skipped and gives the
// files in prio their priority (by path inside the torrent).
func build(info *metainfo.Info, skipped map[string]bool, prio map[string]Priority) (*Selection, error) {
	n := &Selection{skipped: skipped, prio: prio}
	n.wanted = bitfield.New(info.NumPieces())
	n.high = bitfield.New(info.NumPieces())
	n.low = bitfield.New(info.NumPieces())
	highest := make([]Priority, info.NumPieces())
	chosen := 0
	for _, f := range info.Files {
		k := inner(info, f)
		if n.skipped[k] {
			continue
		}
		chosen++
		p := n.prio[k]
		first, last := info.PieceRange(f.Offset, f.Length)
		for j := first; j <= last; j++ {
			// A piece shared by files of different priorities takes the
			// highest: the high file needs it.
			if !n.wanted.Has(j) || p > highest[j] {
				highest[j] = p
			}
			n.wanted.Set(j)
		}
	}
	if chosen == 0 {
		return nil, ErrNothingLeft
	}
	for j, p := range highest {
		switch {
		case !n.wanted.Has(j):
		case p == High:
			n.high.Set(j)
		case p == Low:
			n.low.Set(j)
		}
	}
	return n, nil
}

// Priority is f's priority; Normal for the nil Selection.
func (s *Selection) Priority(info *metainfo.Info, f metainfo.File) Priority {
	if s == nil {
		return Normal
	}
	return s.prio[inner(info, f)]
}

// High and Low are the wanted pieces of high and of low priority (a piece
// shared by files of different priorities has the highest); zero
// Bitfields when no file has such a priority.
func (s *Selection) High() bitfield.Bitfield {
	if s == nil {
		return bitfield.Bitfield{}
	}
	return s.high
}

// Low: see High.
func (s *Selection) Low() bitfield.Bitfield {
	if s == nil {
		return bitfield.Bitfield{}
	}
	return s.low
}
