package mse

import (
	"errors"
	"io"
	"syscall"
)

// ErrInitiate marks a failed Initiate of ours; a dialler wraps its error
// with it so that Fallback can tell it from a later failure.
var ErrInitiate = errors.New("encrypted handshake")

// Fallback says whether an outgoing handshake that failed with err is
// worth one more try on a new connection, the other way: an MSE handshake
// that failed (ErrInitiate) is tried plain, as libtorrent does; a plain
// one the peer hung up on (it takes only encrypted connections, like
// Transmission's or qBittorrent's "require encryption") is tried with MSE.
// encrypted says how the failed attempt began.
func Fallback(err error, encrypted bool) bool {
	if encrypted {
		return errors.Is(err, ErrInitiate)
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
