package session

import (
	"fmt"
	"net"
	"testing"
)

// ListenWithUDP with no port given skips a port whose UDP side another
// program holds (its DHT, say), and returns TCP and UDP on one port.
func TestListenWithUDPSkipsATakenUDPPort(t *testing.T) {
	ln, err := Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	taken, err := net.ListenPacket("udp", fmt.Sprintf(":%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ln, udp, err := ListenWithUDP(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if udp == nil {
		t.Fatal("no UDP socket")
	}
	defer udp.Close()
	tp, up := ln.Addr().(*net.TCPAddr).Port, udp.LocalAddr().(*net.UDPAddr).Port
	if tp != up || tp == p {
		t.Errorf("TCP port %d, UDP port %d; %d's UDP side was taken", tp, up, p)
	}

	// A port asked for by number is kept for TCP; its DHT is off.
	ln2, udp2, err := ListenWithUDP(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if udp2 != nil {
		udp2.Close()
		t.Errorf("a UDP socket on %d, which is taken", p)
	}
}
