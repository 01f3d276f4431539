package magnet

import (
	"reflect"
	"testing"
)

// Whatever Parse accepts, String writes a link that parses to the same
// Magnet and writes itself back unchanged.
func FuzzParseMagnet(f *testing.F) {
	f.Add("magnet:?xt=urn:btih:" + hexHash + "&dn=a+b&tr=udp://h:1&x.pe=[::1]:5&ws=http://w/&so=0,2-3")
	f.Add("magnet:?xt=urn:btih:" + b32Hash + "&xt=urn:btmh:" + btmh)
	f.Add("magnet:?xt=urn:btmh:" + btmh)
	f.Add("magnet:?xt=urn:btih:" + hexHash + "&x.pe=1.2.3.4:5&so=7")
	f.Fuzz(func(t *testing.T, link string) {
		m, err := Parse(link)
		if err != nil {
			return
		}
		s := m.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) of String() failed: %v", s, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
		if again.String() != s {
			t.Fatalf("String not stable: %q then %q", s, again.String())
		}
	})
}
