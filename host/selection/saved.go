package selection

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/torrent-dev/torrent/host/metainfo"
)

// A Selection is kept between runs as one line: savedMagic, then a
// character per file of the torrent in order (pad files not counted):
// l, n, h for a chosen file of low, normal or high priority, L, N, H for a
// skipped one (its priority kept for when it is chosen again).
const savedMagic = "torrent-selection 1 "

var prioChars = [...]byte{Low + 1: 'l', Normal + 1: 'n', High + 1: 'h'}

// Marshal is s as Unmarshal reads it back for the same torrent.
func (s *Selection) Marshal(info *metainfo.Info) []byte {
	b := append(make([]byte, 0, len(savedMagic)+len(info.Files)+1), savedMagic...)
	for _, f := range info.Files {
		c := prioChars[s.Priority(info, f)+1]
		if s.Skips(info, f) {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return append(b, '\n')
}

// Unmarshal reads what Marshal wrote for info. Bytes that are not such a
// line, or one for a torrent with another number of files, are an error;
// so is a line that skips every file. It returns nil (every file at
// Normal) for such a Selection, as New does.
func Unmarshal(info *metainfo.Info, b []byte) (*Selection, error) {
	line, ok := bytes.CutPrefix(b, []byte(savedMagic))
	if !ok {
		return nil, errors.New("not a saved file selection")
	}
	line, ok = bytes.CutSuffix(line, []byte("\n"))
	if !ok || len(line) != len(info.Files) {
		return nil, fmt.Errorf("a saved file selection of %d files for a torrent of %d", len(line), len(info.Files))
	}
	skipped, prio := map[string]bool{}, map[string]Priority{}
	for i, c := range line {
		key := inner(info, info.Files[i])
		lower := c | ('a' - 'A')
		p := Priority(bytes.IndexByte(prioChars[:], lower)) - 1
		if p < Low {
			return nil, fmt.Errorf("a saved file selection with %q for file %d", c, i)
		}
		if c != lower {
			skipped[key] = true
		}
		if p != Normal {
			prio[key] = p
		}
	}
	if len(skipped) == 0 && len(prio) == 0 {
		return nil, nil
	}
	return build(info, skipped, prio)
}
