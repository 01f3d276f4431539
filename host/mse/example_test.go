package mse_test

import (
	"fmt"
	"io"
	"net"

	"github.com/torrent-dev/torrent/host/mse"
)

// An initiator asks for a torrent the receiver serves; its BitTorrent
// handshake rides in the initial payload. Offered only RC4, the receiver
// selects it.
func Example() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	infoHash := [20]byte{0xab}
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			panic(err)
		}
		r, err := mse.Initiate(c, infoHash, mse.RC4, []byte("hello"))
		if err != nil {
			panic(err)
		}
		r.Conn.Write([]byte(", world"))
		r.Conn.Close()
	}()
	c, err := l.Accept()
	if err != nil {
		panic(err)
	}
	r, err := mse.Accept(c, mse.InfoHashes(infoHash))
	if err != nil {
		panic(err)
	}
	got, _ := io.ReadAll(r.Conn)
	fmt.Printf("%v: %s\n", r.Method, got)
	// Output: rc4: hello, world
}
