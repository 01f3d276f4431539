package mse

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

// An MSE handshake of ours that failed is tried plain, a plain one the
// peer hung up on is tried encrypted; nothing else is tried again.
func TestFallback(t *testing.T) {
	initiate := fmt.Errorf("%w: %w", ErrInitiate, io.EOF)
	reset := &net.OpError{Op: "read", Err: syscall.ECONNRESET}
	for _, c := range []struct {
		name      string
		err       error
		encrypted bool
		want      bool
	}{
		{"MSE failed", initiate, true, true},
		{"after MSE, the BitTorrent handshake cut", fmt.Errorf("after MSE: %w", io.ErrUnexpectedEOF), true, false},
		{"plain, hung up", io.EOF, false, true},
		{"plain, cut short", io.ErrUnexpectedEOF, false, true},
		{"plain, reset", reset, false, true},
		{"plain, another torrent", errors.New("handshake for another torrent"), false, false},
		{"plain, refused dial", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false, false},
	} {
		if got := Fallback(c.err, c.encrypted); got != c.want {
			t.Errorf("%s: Fallback = %v, want %v", c.name, got, c.want)
		}
	}
}
