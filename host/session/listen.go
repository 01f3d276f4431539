package session

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// First and last ports tried when no port is given; a second instance
// simply takes the next free one.
const (
	firstPort = 6881
	lastPort  = 6999
)

// Listen opens the peer port: the given one, or with port 0 the first free
// port from 6881 up (any free port if all of those are taken).
func Listen(port int) (net.Listener, error) {
	ln, _, err := listen(port, false)
	return ln, err
}

// ListenWithUDP is Listen that also opens the same port over UDP, for the
// DHT (BEP 5 has it share the BitTorrent port). With port 0 it takes the
// first port from 6881 up that is free over both; udp is nil (and err too)
// when no UDP socket could be had on the TCP port: the DHT then stays off.
func ListenWithUDP(port int) (ln net.Listener, udp net.PacketConn, err error) {
	return listen(port, true)
}

func listen(port int, withUDP bool) (net.Listener, net.PacketConn, error) {
	if port != 0 {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			return nil, nil, fmt.Errorf("listen on port %d: %w", port, err)
		}
		return ln, listenUDP(withUDP, port), nil
	}
	for p := firstPort; p <= lastPort; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) {
				return nil, nil, fmt.Errorf("listen on port %d: %w", p, err)
			}
			continue
		}
		udp := listenUDP(withUDP, p)
		if withUDP && udp == nil {
			ln.Close() // another program's DHT has the UDP port: try the next
			continue
		}
		return ln, udp, nil
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	return ln, listenUDP(withUDP, ln.Addr().(*net.TCPAddr).Port), nil
}

// listenUDP opens UDP port p on every address, IPv4 and IPv6; nil if it
// is not wanted or taken.
func listenUDP(want bool, p int) net.PacketConn {
	if !want {
		return nil
	}
	pc, err := net.ListenPacket("udp", fmt.Sprintf(":%d", p))
	if err != nil {
		return nil
	}
	return pc
}
