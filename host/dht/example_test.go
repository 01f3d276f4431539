package dht_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"time"

	"github.com/torrent-dev/torrent/host/dht"
)

// Two nodes on loopback: b bootstraps from a, both announce the torrent
// (each with its BitTorrent port), and a finds b's peer.
func Example() {
	a, err := dht.New(dht.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := dht.New(dht.Config{Addr: "127.0.0.1:0", Bootstrap: []string{a.Addr().String()}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel() // ends both searches before the nodes close
	infoHash := [20]byte{1, 2, 3}
	go func() {
		for range b.Announce(ctx, infoHash, 6881, time.Second) {
		}
	}()
	want := netip.MustParseAddrPort("127.0.0.1:6881")
	for peers := range a.Announce(ctx, infoHash, 6882, time.Second) {
		if slices.Contains(peers, want) {
			fmt.Println("found", want)
			break
		}
	}
	// Output: found 127.0.0.1:6881
}
