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

// Three nodes on loopback: a is the bootstrap node; b announces a torrent
// (with its BitTorrent port) and c finds b's peer through a.
func Example() {
	a, err := dht.New(dht.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	boot := []string{a.Addr().String()}
	b, err := dht.New(dht.Config{Addr: "127.0.0.1:0", Bootstrap: boot})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	c, err := dht.New(dht.Config{Addr: "127.0.0.1:0", Bootstrap: boot})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel() // ends both searches before the nodes close
	infoHash := [20]byte{1, 2, 3}
	go func() {
		for range b.Announce(ctx, infoHash, 6881, time.Second) {
		}
	}()
	want := netip.MustParseAddrPort("127.0.0.1:6881")
	for peers := range c.Peers(ctx, infoHash, time.Second) {
		if slices.Contains(peers, want) {
			fmt.Println("found", want)
			break
		}
	}
	// Output: found 127.0.0.1:6881
}
