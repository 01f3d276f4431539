// Package magnet parses and writes magnet links (BEP 9): the info-hash,
// display name, trackers, peer addresses (x.pe), web seeds (ws), a file
// selection (so, BEP 53) and, for a hybrid torrent, its v2 hash (btmh).
package magnet

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/torrent-dev/torrent/host/metainfo"
)

// ErrInvalid is wrapped by every error about a malformed magnet link.
var ErrInvalid = errors.New("invalid magnet link")

// Limits that keep a hostile or mistyped link from costing much.
const (
	maxLinkLen   = 1 << 20
	maxFileIndex = 1 << 24 // far above any real torrent's file count
)

// Magnet is what a magnet link says about a torrent before its metadata
// is known: enough to find peers and fetch the info dictionary from them.
type Magnet struct {
	InfoHash [20]byte // the v1 info-hash (xt=urn:btih)
	// V2Hash is the SHA-256 info-hash of a hybrid torrent (xt=urn:btmh),
	// kept so the link can be written back; nil when the link has none.
	V2Hash   []byte
	Name     string           // dn: a name to show until the metadata arrives
	Trackers []string         // tr, in order
	Peers    []netip.AddrPort // x.pe
	WebSeeds []string         // ws
	Select   []Range          // so: the files to download; empty means all
}

// Range is an inclusive range of file indices (BEP 53).
type Range struct{ First, Last int }

// IsMagnet reports whether s looks like a magnet link rather than a path.
func IsMagnet(s string) bool {
	return hasPrefixFold(s, "magnet:")
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse parses a magnet link. Parameters it does not know (xl, kt, as,
// xs, x.*) are ignored, as other clients do.
func Parse(link string) (*Magnet, error) {
	if len(link) > maxLinkLen {
		return nil, invalid("%d bytes long", len(link))
	}
	if !IsMagnet(link) {
		return nil, invalid("does not start with magnet:")
	}
	query, ok := strings.CutPrefix(link[7:], "?")
	if !ok {
		return nil, invalid("no ? after magnet:")
	}
	m := &Magnet{}
	var haveV1, haveDN bool
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, invalid("parameter %q: %v", k, err)
		}
		key = strings.ToLower(key) // some writers shout: XT=, DN=
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, invalid("%s: %v", key, err)
		}
		switch {
		case key == "xt" || strings.HasPrefix(key, "xt."):
			if err := m.parseXT(val, &haveV1); err != nil {
				return nil, err
			}
		case key == "dn":
			if haveDN {
				return nil, invalid("dn given twice")
			}
			haveDN, m.Name = true, val
		case key == "tr":
			if err := checkURL(val, "udp", "http", "https", "ws", "wss"); err != nil {
				return nil, invalid("tr %q: %v", val, err)
			}
			m.Trackers = append(m.Trackers, val)
		case key == "ws":
			if err := checkURL(val, "http", "https"); err != nil {
				return nil, invalid("ws %q: %v", val, err)
			}
			m.WebSeeds = append(m.WebSeeds, val)
		case key == "x.pe":
			ap, err := parsePeer(val)
			if err != nil {
				return nil, invalid("x.pe %q: %v", val, err)
			}
			m.Peers = append(m.Peers, ap)
		case key == "so":
			r, err := parseSelect(val)
			if err != nil {
				return nil, invalid("so %q: %v", val, err)
			}
			m.Select = append(m.Select, r...)
		}
	}
	if !haveV1 {
		if m.V2Hash != nil {
			return nil, fmt.Errorf("magnet link with only a v2 hash (urn:btmh): %w", metainfo.ErrV2Only)
		}
		return nil, invalid("no xt=urn:btih: info-hash")
	}
	return m, nil
}

func (m *Magnet) parseXT(val string, haveV1 *bool) error {
	switch {
	case hasPrefixFold(val, "urn:btih:"):
		h, err := parseBTIH(val[len("urn:btih:"):])
		if err != nil {
			return invalid("xt %q: %v", val, err)
		}
		if *haveV1 && h != m.InfoHash {
			return invalid("two different urn:btih info-hashes")
		}
		*haveV1, m.InfoHash = true, h
	case hasPrefixFold(val, "urn:btmh:"):
		h, err := parseBTMH(val[len("urn:btmh:"):])
		if err != nil {
			return invalid("xt %q: %v", val, err)
		}
		if m.V2Hash != nil && string(h) != string(m.V2Hash) {
			return invalid("two different urn:btmh hashes")
		}
		m.V2Hash = h
	}
	// Other URNs (ed2k, sha1, ...) name the same content for other
	// networks: not ours to use, not an error.
	return nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parseBTIH takes 40 hex digits or 32 base32 characters (BEP 9).
func parseBTIH(s string) ([20]byte, error) {
	var h [20]byte
	switch len(s) {
	case 40:
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return h, errors.New("info-hash is not 40 hex digits")
		}
	case 32:
		b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s))
		if err != nil || len(b) != 20 {
			return h, errors.New("info-hash is not 32 base32 characters")
		}
		copy(h[:], b)
	default:
		return h, fmt.Errorf("info-hash of %d characters (want 40 hex or 32 base32)", len(s))
	}
	return h, nil
}

// parseBTMH takes a hex multihash; BEP 52 uses SHA-256 only: 0x12, length
// 0x20, then 32 bytes.
func parseBTMH(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("multihash is not hex")
	}
	if len(b) != 34 || b[0] != 0x12 || b[1] != 0x20 {
		return nil, errors.New("not a SHA-256 multihash (1220 and 64 hex digits)")
	}
	return b[2:], nil
}

func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Host == "" {
		return errors.New("URL without a host")
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return nil
		}
	}
	return fmt.Errorf("scheme %q (want one of %s)", u.Scheme, strings.Join(schemes, ", "))
}

// parsePeer takes IPv4:port or [IPv6]:port. Host names are refused: a
// link is parsed before any network use, and resolving a name there would
// hide where the peer came from.
func parsePeer(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, errors.New("not IPv4:port or [IPv6]:port")
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, errors.New("port 0")
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, errors.New("IPv6 zone in a peer address")
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// parseSelect takes BEP 53's comma-separated indices and ranges: 0,2,4-6.
func parseSelect(s string) ([]Range, error) {
	var out []Range
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		first, err := fileIndex(a)
		if err != nil {
			return nil, err
		}
		last := first
		if isRange {
			if last, err = fileIndex(b); err != nil {
				return nil, err
			}
			if last < first {
				return nil, fmt.Errorf("range %d-%d runs backwards", first, last)
			}
		}
		out = append(out, Range{first, last})
	}
	return out, nil
}

func fileIndex(s string) (int, error) {
	// Atoi alone would take "+1" and "-0".
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("file index %q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxFileIndex {
		return 0, fmt.Errorf("file index %q out of range", s)
	}
	return n, nil
}

// Selected reports whether file i is to be downloaded.
func (m *Magnet) Selected(i int) bool {
	if len(m.Select) == 0 {
		return true
	}
	for _, r := range m.Select {
		if r.First <= i && i <= r.Last {
			return true
		}
	}
	return false
}

// String writes the link back; Parse of it gives m again.
func (m *Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?xt=urn:btih:")
	b.WriteString(hex.EncodeToString(m.InfoHash[:]))
	if m.V2Hash != nil {
		b.WriteString("&xt=urn:btmh:1220")
		b.WriteString(hex.EncodeToString(m.V2Hash))
	}
	if m.Name != "" {
		b.WriteString("&dn=" + url.QueryEscape(m.Name))
	}
	for _, t := range m.Trackers {
		b.WriteString("&tr=" + url.QueryEscape(t))
	}
	for _, w := range m.WebSeeds {
		b.WriteString("&ws=" + url.QueryEscape(w))
	}
	// Raw, not escaped: libtorrent 2.0.8 does not unescape x.pe (checked:
	// 127.0.0.1%3A4000 gave no peer), and an address needs no escaping.
	for _, p := range m.Peers {
		b.WriteString("&x.pe=" + p.String())
	}
	for i, r := range m.Select {
		sep := ","
		if i == 0 {
			sep = "&so="
		}
		b.WriteString(sep + strconv.Itoa(r.First))
		if r.Last != r.First {
			b.WriteString("-" + strconv.Itoa(r.Last))
		}
	}
	return b.String()
}

// TrackerTiers puts each tr in a tier of its own, in the link's order, as
// libtorrent does, so they are tried one after another (BEP 12).
func (m *Magnet) TrackerTiers() [][]string {
	var tiers [][]string
	seen := map[string]bool{}
	for _, t := range m.Trackers {
		if !seen[t] {
			seen[t] = true
			tiers = append(tiers, []string{t})
		}
	}
	return tiers
}
