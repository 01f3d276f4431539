package wire

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestPEXRoundTrip(t *testing.T) {
	t.Parallel()
	m := PEXMsg{
		Added: []PEXPeer{{ap("127.0.0.1:6881"), PEXSeed | PEXEncryption}, {ap("10.1.2.3:1"), 0},
			{ap("[::1]:51413"), PEXUTP}, {ap("[2001:db8::9]:443"), PEXReachable}},
		Dropped: []netip.AddrPort{ap("192.168.0.9:7000"), ap("[fe80::1]:9")},
	}
	got, err := ParsePEXMsg(AppendPEXMsg(nil, m))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got %+v\nwant %+v", got, m)
	}
}

// The bytes BEP 11 and libtorrent use: keys in order, compact addresses.
func TestPEXEncoding(t *testing.T) {
	t.Parallel()
	got := string(AppendPEXMsg(nil, PEXMsg{Added: []PEXPeer{{ap("1.2.3.4:258"), PEXSeed}}, Dropped: []netip.AddrPort{ap("[::ffff:5.6.7.8]:1")}}))
	want := "d5:added6:\x01\x02\x03\x04\x01\x027:added.f1:\x026:added60:8:added6.f0:7:dropped6:\x05\x06\x07\x08\x00\x018:dropped60:e"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestPEXLenient(t *testing.T) {
	t.Parallel()
	// No flags, a flags string of the wrong length, unknown keys, missing lists.
	m, err := ParsePEXMsg([]byte("d5:added12:\x01\x02\x03\x04\x00\x01\x05\x06\x07\x08\x00\x027:added.f1:\x011:xi3ee"))
	if err != nil {
		t.Fatal(err)
	}
	want := []PEXPeer{{ap("1.2.3.4:1"), 0}, {ap("5.6.7.8:2"), 0}}
	if !reflect.DeepEqual(m.Added, want) || m.Dropped != nil {
		t.Fatalf("got %+v", m)
	}
	if m, err := ParsePEXMsg([]byte("de")); err != nil || m.Added != nil || m.Dropped != nil {
		t.Fatalf("empty dict: %+v, %v", m, err)
	}
	// An IPv4-mapped address in added6 comes out as IPv4.
	m, err = ParsePEXMsg([]byte("d6:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x7f\x00\x00\x01\x00\x50e"))
	if err != nil || m.Added[0].Addr != ap("127.0.0.1:80") {
		t.Fatalf("mapped: %+v, %v", m, err)
	}
}

func TestPEXErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ in, says string }{
		"not bencode":   {"garbage", "ut_pex"},
		"not a dict":    {"i5e", "ut_pex"},
		"ragged added":  {"d5:added5:abcdee", "added is 5 bytes, not a multiple of 6"},
		"ragged added6": {"d6:added67:abcdefge", "added6 is 7 bytes, not a multiple of 18"},
		"ragged drop":   {"d7:dropped1:xe", "dropped is 1 bytes"},
		"added an int":  {"d5:addedi5ee", "ut_pex"},
		"too many":      {"d7:dropped" + strconv.Itoa(6*(MaxPEXEntries+1)) + ":" + strings.Repeat("x", 6*(MaxPEXEntries+1)) + "e", "201 peers in dropped (limit 200)"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePEXMsg([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want one that says %q", err, tc.says)
			}
		})
	}
}
