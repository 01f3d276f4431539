package magnet

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/host/metainfo"
)

const (
	hexHash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	b32Hash = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK" // the same 20 bytes
	btmh    = "1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e"
)

func hash20(t *testing.T) [20]byte {
	t.Helper()
	m, err := Parse("magnet:?xt=urn:btih:" + hexHash)
	if err != nil {
		t.Fatal(err)
	}
	return m.InfoHash
}

func TestParse(t *testing.T) {
	t.Parallel()
	h := hash20(t)
	v2 := []byte{0xca, 0xf1, 0xe1, 0xc3, 0x0e, 0x81, 0xcb, 0x36, 0x1b, 0x9e, 0xe1, 0x67, 0xc4, 0xaa, 0x64, 0x22,
		0x8a, 0x7f, 0xa4, 0xfa, 0x9f, 0x61, 0x05, 0x23, 0x2b, 0x28, 0xad, 0x09, 0x9f, 0x3a, 0x30, 0x2e}
	for name, tc := range map[string]struct {
		link string
		want Magnet
	}{
		"hex only":       {"magnet:?xt=urn:btih:" + hexHash, Magnet{InfoHash: h}},
		"hex upper case": {"MAGNET:?XT=urn:BTIH:" + strings.ToUpper(hexHash), Magnet{InfoHash: h}},
		"base32":         {"magnet:?xt=urn:btih:" + b32Hash, Magnet{InfoHash: h}},
		"base32 lower":   {"magnet:?xt=urn:btih:" + strings.ToLower(b32Hash), Magnet{InfoHash: h}},
		"everything": {
			"magnet:?xt=urn:btih:" + hexHash + "&dn=Some+File%20name.iso" +
				"&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp://tracker.example:1337" +
				"&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:51413&x.pe=[2001:db8::7]:1" +
				"&ws=https://mirror.example/files/&so=0,2,4-6&xl=12345&kt=a+b&x.foo=bar",
			Magnet{
				InfoHash: h, Name: "Some File name.iso",
				Trackers: []string{"http://127.0.0.1:6969/announce", "udp://tracker.example:1337"},
				Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:6881"),
					netip.MustParseAddrPort("[::1]:51413"), netip.MustParseAddrPort("[2001:db8::7]:1")},
				WebSeeds: []string{"https://mirror.example/files/"},
				Select:   []Range{{0, 0}, {2, 2}, {4, 6}},
			},
		},
		"hybrid":            {"magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btmh:" + btmh, Magnet{InfoHash: h, V2Hash: v2}},
		"hybrid btmh first": {"magnet:?xt.1=urn:btmh:" + btmh + "&xt.2=urn:btih:" + b32Hash, Magnet{InfoHash: h, V2Hash: v2}},
		"same btih twice":   {"magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btih:" + b32Hash, Magnet{InfoHash: h}},
		"other urn ignored": {"magnet:?xt=urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0&xt=urn:btih:" + hexHash, Magnet{InfoHash: h}},
		"mapped v4 peer":    {"magnet:?xt=urn:btih:" + hexHash + "&x.pe=[::ffff:10.0.0.1]:80", Magnet{InfoHash: h, Peers: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80")}}},
		"empty params":      {"magnet:?&xt=urn:btih:" + hexHash + "&&", Magnet{InfoHash: h}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.link)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", *got, tc.want)
			}
			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(%q): %v", got.String(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip through %q gave %+v", got.String(), again)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	x := "magnet:?xt=urn:btih:" + hexHash
	for name, tc := range map[string]struct{ link, says string }{
		"not a magnet":    {"http://example.com/?xt=urn:btih:" + hexHash, "does not start with magnet:"},
		"no question":     {"magnet:xt=urn:btih:" + hexHash, "no ? after magnet:"},
		"no xt":           {"magnet:?dn=x", "no xt=urn:btih"},
		"short hash":      {"magnet:?xt=urn:btih:abc", "info-hash of 3 characters"},
		"bad hex":         {"magnet:?xt=urn:btih:" + strings.Repeat("g", 40), "not 40 hex digits"},
		"bad base32":      {"magnet:?xt=urn:btih:" + strings.Repeat("1", 32), "not 32 base32"},
		"two btih":        {x + "&xt=urn:btih:" + strings.Repeat("0", 40), "two different urn:btih"},
		"bad btmh":        {x + "&xt=urn:btmh:1114" + strings.Repeat("0", 40), "not a SHA-256 multihash"},
		"btmh not hex":    {x + "&xt=urn:btmh:zz", "multihash is not hex"},
		"two dn":          {x + "&dn=a&dn=b", "dn given twice"},
		"bad escape":      {x + "&dn=%zz", "dn:"},
		"tr not url":      {x + "&tr=not%20a%20url", "tr \"not a url\""},
		"tr file scheme":  {x + "&tr=file:///etc/passwd", "URL without a host"},
		"tr ftp":          {x + "&tr=ftp://h/", "scheme \"ftp\""},
		"ws udp":          {x + "&ws=udp://h:1", "ws \"udp://h:1\""},
		"peer hostname":   {x + "&x.pe=example.com:6881", "x.pe \"example.com:6881\": not IPv4:port"},
		"peer no port":    {x + "&x.pe=127.0.0.1", "not IPv4:port"},
		"peer port 0":     {x + "&x.pe=127.0.0.1:0", "port 0"},
		"peer v6 no []":   {x + "&x.pe=::1:80", "not IPv4:port or [IPv6]:port"},
		"peer zone":       {x + "&x.pe=[fe80::1%25eth0]:80", "zone"},
		"so backwards":    {x + "&so=6-4", "runs backwards"},
		"so empty":        {x + "&so=", "file index \"\""},
		"so negative":     {x + "&so=-1", "file index \"\""},
		"so plus":         {x + "&so=%2B1", "not a number"},
		"so huge":         {x + "&so=99999999999999999999", "out of range"},
		"so trailing ,":   {x + "&so=1,", "file index \"\""},
		"too long":        {x + "&dn=" + strings.Repeat("a", maxLinkLen), "bytes long"},
		"bad key escape":  {x + "&%zz=1", "parameter \"%zz\""},
		"upper urn bad":   {"magnet:?xt=URN:BTIH:" + strings.Repeat("0", 39), "39 characters"},
		"only other urns": {"magnet:?xt=urn:sha1:ABCDEF", "no xt=urn:btih"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.link)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q, want one wrapping ErrInvalid that says %q", err, tc.says)
			}
		})
	}
}

// A link with only a v2 hash is a v2-only torrent: the same error as a
// v2-only .torrent file, so the command line treats both alike.
func TestV2Only(t *testing.T) {
	t.Parallel()
	_, err := Parse("magnet:?xt=urn:btmh:" + btmh + "&dn=x")
	if !errors.Is(err, metainfo.ErrV2Only) {
		t.Fatalf("error %v, want ErrV2Only", err)
	}
}

func TestSelectedAndTiers(t *testing.T) {
	t.Parallel()
	m, err := Parse("magnet:?xt=urn:btih:" + hexHash + "&so=1,3-4&tr=udp://a:1&tr=udp://b:2&tr=udp://a:1")
	if err != nil {
		t.Fatal(err)
	}
	var sel []int
	for i := range 6 {
		if m.Selected(i) {
			sel = append(sel, i)
		}
	}
	if !reflect.DeepEqual(sel, []int{1, 3, 4}) {
		t.Fatalf("selected %v", sel)
	}
	if got := m.TrackerTiers(); !reflect.DeepEqual(got, [][]string{{"udp://a:1"}, {"udp://b:2"}}) {
		t.Fatalf("tiers %v", got)
	}
	if all := (&Magnet{}); !all.Selected(99) {
		t.Fatal("no so must select every file")
	}
}
