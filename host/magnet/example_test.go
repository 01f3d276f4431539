package magnet_test

import (
	"fmt"

	"github.com/torrent-dev/torrent/host/magnet"
)

func ExampleParse() {
	m, err := magnet.Parse("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&dn=Debian+12&tr=udp%3A%2F%2F127.0.0.1%3A6969&x.pe=[::1]:6881&so=0,2-3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%x %q %v %v %v\n", m.InfoHash, m.Name, m.Trackers, m.Peers, m.Select)
	fmt.Println(m)
	_, err = magnet.Parse("magnet:?xt=urn:btih:123&dn=x")
	fmt.Println(err)
	// Output:
	// c12fe1c06bba254a9dc9f519b335aa7c1367a88a "Debian 12" [udp://127.0.0.1:6969] [[::1]:6881] [{0 0} {2 3}]
	// magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Debian+12&tr=udp%3A%2F%2F127.0.0.1%3A6969&x.pe=[::1]:6881&so=0,2-3
	// invalid magnet link: xt "urn:btih:123": info-hash of 3 characters (want 40 hex or 32 base32)
}
