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
	if port != 0 {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			return nil, fmt.Errorf("listen on port %d: %w", port, err)
		}
		return ln, nil
	}
	for p := firstPort; p <= lastPort; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on port %d: %w", p, err)
		}
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}
