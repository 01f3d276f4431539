// Package metainfo reads and writes v1 .torrent files (BEP 3, with
// announce-list from BEP 12, and the file attributes and pad files of
// BEP 47 that v1+v2 hybrids carry). The info-hash is taken over the info
// dictionary's bytes exactly as they appear in the file, and every file
// path is checked so a torrent cannot write outside its directory.
package metainfo

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/anacrolix/torrent/bencode"
)

// ErrInvalid is wrapped by every error about a malformed torrent.
var ErrInvalid = errors.New("invalid torrent")

// ErrV2Only is a BEP 52 torrent without the v1 part a hybrid carries: its
// pieces are verified by SHA-256 merkle trees, which this client lacks.
var ErrV2Only = errors.New("v2-only torrents are not supported yet")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Limits that keep a hostile file from making us allocate absurdly.
const (
	maxPieceLength = 256 << 20
	maxFileSize    = 64 << 20 // a .torrent larger than this is not one
)

// File is one file of the torrent.
type File struct {
	Path   []string // components, sanitised; for a single-file torrent [Info.Name]
	Length int64
	Offset int64 // of the file's first byte in the torrent's concatenated data
	// Attr is BEP 47's attr string: x (executable), h (hidden) and l
	// (symlink) are kept for display only (a symlink is never made, its
	// entry is an ordinary file); p (padding) files are in Extents only.
	Attr string
	Pad  bool // a BEP 47 pad file: zeros, never on disk, never listed
}

// Info is the info dictionary.
type Info struct {
	Name        string
	PieceLength int64
	Pieces      [][20]byte
	Files       []File // also for a single-file torrent (one File); no pad files
	// Extents is every entry of the file list in order, pad files
	// included: what storage lays out. Files is Extents without the pads.
	Extents   []File
	Length    int64 // total bytes, pad files included
	Private   bool
	MultiFile bool   // the info dict had "files"
	Source    string // "source", a private tracker's tag; "" if absent
}

// MetaInfo is a parsed .torrent file.
type MetaInfo struct {
	Announce     string
	AnnounceList [][]string
	Comment      string
	CreatedBy    string
	CreationDate int64 // unix seconds, 0 if absent
	Info         Info
	InfoHash     [20]byte
	// URLList is the web seeds (BEP 19 url-list) as the file gives them;
	// WebSeeds is the ones this client can use.
	URLList []string
	// InfoBytes is the info dictionary byte for byte as in the file (its
	// SHA-1 is InfoHash): what ut_metadata serves to peers.
	InfoBytes []byte
}

type rawMeta struct {
	Announce     bencode.Bytes `bencode:"announce,omitempty"`
	AnnounceList bencode.Bytes `bencode:"announce-list,omitempty"`
	Comment      bencode.Bytes `bencode:"comment,omitempty"`
	CreatedBy    bencode.Bytes `bencode:"created by,omitempty"`
	CreationDate bencode.Bytes `bencode:"creation date,omitempty"`
	URLList      bencode.Bytes `bencode:"url-list,omitempty"`
	Info         bencode.Bytes `bencode:"info"`
}

type rawInfo struct {
	Name        string        `bencode:"name"`
	NameUTF8    string        `bencode:"name.utf-8,omitempty"`
	PieceLength int64         `bencode:"piece length"`
	Pieces      []byte        `bencode:"pieces"`
	Length      *int64        `bencode:"length,omitempty"`
	Files       []rawFile     `bencode:"files,omitempty"`
	Private     int64         `bencode:"private,omitempty"`
	Source      bencode.Bytes `bencode:"source,omitempty"`
	// BEP 52: a v2-only torrent has these and no length or files.
	MetaVersion int64         `bencode:"meta version,omitempty"`
	FileTree    bencode.Bytes `bencode:"file tree,omitempty"`
}

type rawFile struct {
	Length   int64    `bencode:"length"`
	Path     []string `bencode:"path"`
	PathUTF8 []string `bencode:"path.utf-8,omitempty"`
	Attr     string   `bencode:"attr,omitempty"`
}

// Load reads and parses a .torrent file.
func Load(p string) (*MetaInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: %w: file of %d bytes is too large", p, ErrInvalid, st.Size())
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}

// unmarshal is bencode.Unmarshal that turns a decoder panic into an error.
func unmarshal(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bencode: %v", r)
		}
	}()
	return bencode.Unmarshal(data, v)
}

// Parse parses the bytes of a .torrent file.
func Parse(data []byte) (*MetaInfo, error) {
	var raw rawMeta
	if err := unmarshal(data, &raw); err != nil {
		return nil, invalid("%v", err)
	}
	if len(raw.Info) == 0 {
		return nil, invalid("no info dictionary")
	}
	var ri rawInfo
	if err := unmarshal(raw.Info, &ri); err != nil {
		return nil, invalid("info dictionary: %v", err)
	}
	info, err := ri.check()
	if err != nil {
		return nil, err
	}
	m := &MetaInfo{Info: *info, InfoHash: sha1.Sum(raw.Info), InfoBytes: bytes.Clone(raw.Info)}
	// The fields outside info are advisory: a malformed one is ignored
	// rather than making the whole torrent unusable.
	unmarshal(raw.Announce, &m.Announce)
	unmarshal(raw.AnnounceList, &m.AnnounceList)
	unmarshal(raw.Comment, &m.Comment)
	unmarshal(raw.CreatedBy, &m.CreatedBy)
	unmarshal(raw.CreationDate, &m.CreationDate)
	m.URLList = parseURLList(raw.URLList)
	return m, nil
}

func (ri *rawInfo) check() (*Info, error) {
	name := ri.Name
	if ri.NameUTF8 != "" {
		name = ri.NameUTF8
	}
	if err := checkComponent(name); err != nil {
		return nil, invalid("name: %v", err)
	}
	if ri.PieceLength <= 0 || ri.PieceLength > maxPieceLength {
		return nil, invalid("piece length %d", ri.PieceLength)
	}
	if len(ri.Pieces)%20 != 0 {
		return nil, invalid("pieces is %d bytes, not a multiple of 20", len(ri.Pieces))
	}
	info := &Info{Name: name, PieceLength: ri.PieceLength, Private: ri.Private == 1}
	unmarshal(ri.Source, &info.Source) // informational: a wrong type is ignored
	switch {
	case ri.Length != nil && ri.Files != nil:
		return nil, invalid("both length and files")
	case ri.Length != nil:
		if *ri.Length < 0 {
			return nil, invalid("negative length %d", *ri.Length)
		}
		info.Files = []File{{Path: []string{name}, Length: *ri.Length}}
		info.Extents = info.Files
		info.Length = *ri.Length
	case ri.Files != nil:
		info.MultiFile = true
		if err := info.addFiles(ri.Files); err != nil {
			return nil, err
		}
	case ri.MetaVersion == 2 || len(ri.FileTree) > 0:
		return nil, ErrV2Only
	default:
		return nil, invalid("neither length nor files")
	}
	n := len(ri.Pieces) / 20
	if want := (info.Length + info.PieceLength - 1) / info.PieceLength; int64(n) != want {
		return nil, invalid("%d piece hashes for %d bytes in pieces of %d (want %d)", n, info.Length, info.PieceLength, want)
	}
	info.Pieces = make([][20]byte, n)
	for i := range info.Pieces {
		copy(info.Pieces[i][:], ri.Pieces[20*i:])
	}
	return info, nil
}

func (info *Info) addFiles(files []rawFile) error {
	seen := make(map[string]bool, len(files))
	for i, rf := range files {
		p := rf.Path
		if len(rf.PathUTF8) > 0 {
			p = rf.PathUTF8
		}
		if strings.Contains(rf.Attr, "p") || padName(p) {
			// Its path (.pad/N, the same for every pad of one size) is
			// never used: a pad file is zeros and is never created.
			if err := info.addPad(rf); err != nil {
				return err
			}
			continue
		}
		if len(p) == 0 {
			return invalid("file %d has an empty path", i)
		}
		for _, c := range p {
			if err := checkComponent(c); err != nil {
				return invalid("file path %q: %v", strings.Join(p, "/"), err)
			}
		}
		if rf.Length < 0 {
			return invalid("file %q has negative length %d", strings.Join(p, "/"), rf.Length)
		}
		if info.Length > 1<<62-rf.Length {
			return invalid("total length overflows")
		}
		joined := strings.Join(p, "/")
		if seen[joined] {
			return invalid("file %q appears twice", joined)
		}
		seen[joined] = true
		f := File{Path: p, Length: rf.Length, Offset: info.Length, Attr: rf.Attr}
		info.Files = append(info.Files, f)
		info.Extents = append(info.Extents, f)
		info.Length += rf.Length
	}
	// A file may not also be a directory of another (a/b and a/b/c).
	for j := range seen {
		for d := path.Dir(j); d != "."; d = path.Dir(d) {
			if seen[d] {
				return invalid("%q is both a file and a directory", d)
			}
		}
	}
	return nil
}

// padName says whether a file not marked with BEP 47's attr p is a pad
// file by its name, as libtorrent reads them: .pad/LENGTH (libtorrent's
// own) or _____padding_file_* (BitComet, older libtorrent). Its bytes are
// zeros, and no web seed has it.
func padName(p []string) bool {
	return len(p) == 2 && p[0] == ".pad" || len(p) > 0 && strings.HasPrefix(p[len(p)-1], "_____padding_file_")
}

func (info *Info) addPad(rf rawFile) error {
	if rf.Length < 0 || info.Length > 1<<62-rf.Length {
		return invalid("pad file of length %d", rf.Length)
	}
	info.Extents = append(info.Extents, File{Path: []string{".pad", fmt.Sprint(rf.Length)}, Length: rf.Length, Offset: info.Length, Attr: rf.Attr, Pad: true})
	info.Length += rf.Length
	return nil
}

// checkComponent accepts one path element that stays inside its directory.
func checkComponent(c string) error {
	switch {
	case c == "":
		return errors.New("empty path component")
	case c == "." || c == "..":
		return fmt.Errorf("path component %q", c)
	case strings.ContainsAny(c, "/\\\x00"):
		return fmt.Errorf("path component %q contains a separator or NUL", c)
	}
	return nil
}

// DataLength is the bytes of the torrent's files, pad files not counted:
// the size to show a user.
func (info *Info) DataLength() int64 {
	var n int64
	for _, f := range info.Files {
		n += f.Length
	}
	return n
}

// NumPieces is the number of pieces.
func (info *Info) NumPieces() int { return len(info.Pieces) }

// PieceSize is the length of piece p; the last one may be shorter.
func (info *Info) PieceSize(p int) int64 {
	if p == len(info.Pieces)-1 {
		return info.Length - int64(p)*info.PieceLength
	}
	return info.PieceLength
}

// RelPath is f's path relative to the download directory, slash-separated:
// Name for a single-file torrent, Name/... for a multi-file one.
func (info *Info) RelPath(f File) string {
	if !info.MultiFile {
		return info.Name
	}
	return info.Name + "/" + strings.Join(f.Path, "/")
}

// Trackers returns the announce URLs in tiers (BEP 12): announce-list if it
// has any usable URL, else announce. Unsupported schemes are dropped.
func (m *MetaInfo) Trackers() [][]string {
	seen := map[string]bool{}
	var tiers [][]string
	for _, tier := range m.AnnounceList {
		var t []string
		for _, u := range tier {
			if usableTracker(u) && !seen[u] {
				seen[u] = true
				t = append(t, u)
			}
		}
		if len(t) > 0 {
			tiers = append(tiers, t)
		}
	}
	if len(tiers) == 0 && usableTracker(m.Announce) {
		tiers = [][]string{{m.Announce}}
	}
	return tiers
}

// TrackerURL is one announce URL as the torrent lists it.
type TrackerURL struct {
	URL    string
	Tier   int
	Usable bool // an http, https or udp URL with a host: the client can announce to it
}

// AllTrackers lists every announce URL, usable or not, in tiers as the
// torrent gives them: announce-list, or announce when that is empty. Only
// the usable ones are announced to (Trackers).
func (m *MetaInfo) AllTrackers() []TrackerURL {
	var out []TrackerURL
	for i, tier := range m.AnnounceList {
		for _, u := range tier {
			out = append(out, TrackerURL{URL: u, Tier: i, Usable: usableTracker(u)})
		}
	}
	if len(out) == 0 && m.Announce != "" {
		out = append(out, TrackerURL{URL: m.Announce, Usable: usableTracker(m.Announce)})
	}
	return out
}

// parseURLList reads url-list, a string or a list of strings (BEP 19);
// anything else, and empty strings, are ignored.
func parseURLList(raw bencode.Bytes) []string {
	if len(raw) == 0 {
		return nil
	}
	if raw[0] != 'l' {
		if u := bencodedString(raw); u != "" {
			return []string{u}
		}
		return nil
	}
	var list []bencode.Bytes
	if unmarshal(raw, &list) != nil {
		return nil
	}
	var urls []string
	for _, v := range list {
		if u := bencodedString(v); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// bencodedString decodes raw if it is a byte string, else gives "". The
// decoder would turn a list into its first element: the type is checked
// here first.
func bencodedString(raw bencode.Bytes) string {
	var s string
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' || unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// WebSeeds returns the usable web seed URLs (http and https), each once.
func (m *MetaInfo) WebSeeds() []string {
	var urls []string
	for _, u := range m.URLList {
		if UsableWebSeed(u) && !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	return urls
}

// UsableWebSeed says whether this client can fetch from web seed URL u.
func UsableWebSeed(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host != "" && (p.Scheme == "http" || p.Scheme == "https")
}

func usableTracker(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host != "" && (p.Scheme == "http" || p.Scheme == "https" || p.Scheme == "udp")
}

// PieceRange is the pieces, first to last, that bytes [off, off+n) of
// the torrent touch; empty (last < first) when n <= 0.
func (info *Info) PieceRange(off, n int64) (first, last int) {
	if n <= 0 {
		return 0, -1
	}
	return int(off / info.PieceLength), int((off + n - 1) / info.PieceLength)
}

// HasRange reports whether has holds every piece of bytes [off, off+n).
func (info *Info) HasRange(off, n int64, has func(piece int) bool) bool {
	first, last := info.PieceRange(off, n)
	for i := first; i <= last; i++ {
		if !has(i) {
			return false
		}
	}
	return true
}

// RawInfo is the info dictionary of a .torrent file exactly as it is in
// the file: the bytes the info-hash is taken over, and what BEP 9 serves.
func RawInfo(data []byte) ([]byte, error) {
	var raw rawMeta
	if err := unmarshal(data, &raw); err != nil {
		return nil, invalid("%v", err)
	}
	if len(raw.Info) == 0 {
		return nil, invalid("no info dictionary")
	}
	return raw.Info, nil
}
