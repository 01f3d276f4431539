// Package tracker announces a torrent to its trackers: HTTP (BEP 3 with
// compact peer lists from BEP 23) and UDP (BEP 15), and the Announcer that
// decides when to announce again.
package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// Event is the announce event.
type Event int

// Announce events.
const (
	None Event = iota
	Started
	Completed
	Stopped
)

func (e Event) String() string {
	return [...]string{"", "started", "completed", "stopped"}[e]
}

// Request is one announce.
type Request struct {
	InfoHash, PeerID           [20]byte
	Port                       int
	Uploaded, Downloaded, Left int64
	Event                      Event
	NumWant                    int
	Key                        uint32
	TrackerID                  string
}

// Response is a tracker's answer.
type Response struct {
	Interval, MinInterval time.Duration
	TrackerID             string
	Warning               string
	Complete, Incomplete  int
	Peers                 []netip.AddrPort
}

// FailureError is a tracker's "failure reason".
type FailureError struct{ Reason string }

func (e *FailureError) Error() string { return "tracker: " + e.Reason }

// Errors about a reply's bytes, so that Reason can name them briefly.
var (
	ErrNotBencoded = errors.New("not a bencoded reply")
	ErrBadReply    = errors.New("malformed reply")
	ErrTooLarge    = fmt.Errorf("reply larger than %d MiB", maxBody>>20)
)

var errScheme = errors.New("unsupported scheme")

// HTTPStatusError is a reply with a status other than 200 and no failure
// reason in its body.
type HTTPStatusError struct{ Code int }

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// maxBody caps what is read of a reply: a compact reply of 200 peers is
// about 1.2 kB, so anything near the cap is a wrong or hostile server.
const maxBody = 2 << 20

// httpClient's timeout is a last resort: the Announcer bounds each attempt
// with its own, shorter context.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// Announce sends req to the tracker at u (http, https or udp).
func Announce(ctx context.Context, u string, req Request) (*Response, error) {
	p, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", u, err)
	}
	var r *Response
	switch p.Scheme {
	case "http", "https":
		r, err = announceHTTP(ctx, p, req)
	case "udp":
		r, err = announceUDP(ctx, p.Host, req)
	default:
		err = fmt.Errorf("%w %q", errScheme, p.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", u, err)
	}
	return r, nil
}

func announceHTTP(ctx context.Context, u *url.URL, req Request) (*Response, error) {
	q := []string{
		"info_hash=" + escapeBytes(req.InfoHash[:]),
		"peer_id=" + escapeBytes(req.PeerID[:]),
		"port=" + strconv.Itoa(req.Port),
		"uploaded=" + strconv.FormatInt(req.Uploaded, 10),
		"downloaded=" + strconv.FormatInt(req.Downloaded, 10),
		"left=" + strconv.FormatInt(req.Left, 10),
		"compact=1",
		"numwant=" + strconv.Itoa(req.NumWant),
		"key=" + strconv.FormatUint(uint64(req.Key), 16),
	}
	if req.Event != None {
		q = append(q, "event="+req.Event.String())
	}
	if req.TrackerID != "" {
		q = append(q, "trackerid="+escapeBytes([]byte(req.TrackerID)))
	}
	full := *u
	if full.RawQuery != "" {
		full.RawQuery += "&"
	}
	full.RawQuery += strings.Join(q, "&")
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, full.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxBody {
		return nil, ErrTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	if len(body) > maxBody {
		return nil, ErrTooLarge
	}
	if resp.StatusCode != http.StatusOK {
		// Some trackers put a bencoded failure reason in an error reply.
		var f *FailureError
		if _, err := ParseHTTPResponse(body); errors.As(err, &f) {
			return nil, err
		}
		return nil, &HTTPStatusError{Code: resp.StatusCode}
	}
	return ParseHTTPResponse(body)
}

// escapeBytes percent-encodes every byte outside RFC 3986's unreserved set.
// url.QueryEscape would send 0x20 as "+", which opentracker (and others)
// do not read back as a space: about 7.5% of info-hashes hold that byte.
func escapeBytes(b []byte) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(3 * len(b))
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&15])
		}
	}
	return sb.String()
}

type httpReply struct {
	Failure     *string       `bencode:"failure reason"`
	Warning     string        `bencode:"warning message"`
	Interval    int64         `bencode:"interval"`
	MinInterval int64         `bencode:"min interval"`
	TrackerID   string        `bencode:"tracker id"`
	Complete    int64         `bencode:"complete"`
	Incomplete  int64         `bencode:"incomplete"`
	Peers       bencode.Bytes `bencode:"peers"`
	Peers6      []byte        `bencode:"peers6"`
}

type dictPeer struct {
	IP   string `bencode:"ip"`
	Port int64  `bencode:"port"`
}

// ParseHTTPResponse decodes an HTTP tracker's bencoded reply.
func ParseHTTPResponse(body []byte) (r *Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("%w: %v", ErrBadReply, p)
		}
	}()
	var raw httpReply
	if err := bencode.Unmarshal(body, &raw); err != nil {
		if len(body) == 0 || body[0] != 'd' {
			return nil, fmt.Errorf("%w: %.40q", ErrNotBencoded, body) // an HTML page, a proxy's notice
		}
		return nil, fmt.Errorf("%w: %v", ErrBadReply, err)
	}
	if raw.Failure != nil {
		return nil, &FailureError{Reason: *raw.Failure}
	}
	if raw.Interval < 0 || raw.MinInterval < 0 || raw.Interval > 1e6 || raw.MinInterval > 1e6 {
		return nil, fmt.Errorf("%w: interval %d, min interval %d", ErrBadReply, raw.Interval, raw.MinInterval)
	}
	r = &Response{
		Interval: time.Duration(raw.Interval) * time.Second, MinInterval: time.Duration(raw.MinInterval) * time.Second,
		TrackerID: raw.TrackerID, Warning: raw.Warning, Complete: int(raw.Complete), Incomplete: int(raw.Incomplete),
	}
	if len(raw.Peers) > 0 {
		var compact []byte
		var dict []dictPeer
		switch {
		case bencode.Unmarshal(raw.Peers, &compact) == nil:
			if r.Peers, err = compactPeers(compact, 4); err != nil {
				return nil, err
			}
		case bencode.Unmarshal(raw.Peers, &dict) == nil:
			for _, d := range dict {
				a, err := netip.ParseAddr(d.IP)
				if err != nil || d.Port <= 0 || d.Port > 65535 {
					continue // one bad entry does not spoil the rest
				}
				r.Peers = append(r.Peers, netip.AddrPortFrom(a.Unmap(), uint16(d.Port)))
			}
		default:
			return nil, fmt.Errorf("%w: peers is neither a string nor a list", ErrBadReply)
		}
	}
	if len(raw.Peers6) > 0 {
		p6, err := compactPeers(raw.Peers6, 16)
		if err != nil {
			return nil, err
		}
		r.Peers = append(r.Peers, p6...)
	}
	return r, nil
}

// compactPeers decodes BEP 23 (IPv4) or BEP 7 (IPv6) peer strings.
func compactPeers(b []byte, ipLen int) ([]netip.AddrPort, error) {
	n := ipLen + 2
	if len(b)%n != 0 {
		return nil, fmt.Errorf("%w: compact peer list of %d bytes is not a multiple of %d", ErrBadReply, len(b), n)
	}
	peers := make([]netip.AddrPort, 0, len(b)/n)
	for ; len(b) > 0; b = b[n:] {
		a, _ := netip.AddrFromSlice(b[:ipLen])
		port := binary.BigEndian.Uint16(b[ipLen:])
		if port != 0 {
			peers = append(peers, netip.AddrPortFrom(a.Unmap(), port))
		}
	}
	return peers, nil
}
