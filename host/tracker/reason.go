package tracker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"unicode"
)

// maxReason bounds a tracker's own failure reason on a status line.
const maxReason = 80

// Reason is a short description of why an announce failed, for a status
// line: "connection refused", "timed out", "not a bencoded reply",
// "tracker: <failure reason>". The error itself, with the URL and query
// string, belongs in the debug log.
func Reason(err error) string {
	var (
		fail   *FailureError
		status *HTTPStatusError
		dns    *net.DNSError
		netErr net.Error
		x509U  x509.UnknownAuthorityError
		x509H  x509.HostnameError
		x509C  x509.CertificateInvalidError
		tlsRec tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &fail):
		return "tracker: " + printable(fail.Reason, maxReason)
	case errors.As(err, &status):
		return status.Error()
	case errors.Is(err, ErrNotBencoded):
		return ErrNotBencoded.Error()
	case errors.Is(err, ErrBadReply):
		return ErrBadReply.Error()
	case errors.Is(err, ErrTooLarge):
		return ErrTooLarge.Error()
	case errors.Is(err, errNoReply), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed by the tracker"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dns):
		return "host not found"
	case errors.As(err, &x509U), errors.As(err, &x509H), errors.As(err, &x509C):
		return "bad TLS certificate"
	case errors.As(err, &tlsRec):
		return "not a TLS server"
	case errors.Is(err, errScheme):
		return errScheme.Error()
	}
	// Something else: the innermost error, which holds no URL.
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return printable(err.Error(), maxReason)
}

// printable keeps what a tracker sent from reaching a terminal as control
// sequences, and keeps it to one short line.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// Redact drops a tracker URL's query, as Status.URL does, so that a UI can
// list every tracker without its passkey and find the one Status names.
func Redact(u string) string { return redact(u) }
