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

func (e *FailureError) Error() string { return "tracker says: " + e.Reason }

const maxBody = 1 << 20

var httpClient = &http.Client{Timeout: 30 * time.Second}

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
		err = fmt.Errorf("unsupported scheme %q", p.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", u, err)
	}
	return r, nil
}

func announceHTTP(ctx context.Context, u *url.URL, req Request) (*Response, error) {
	q := []string{
		"info_hash=" + url.QueryEscape(string(req.InfoHash[:])),
		"peer_id=" + url.QueryEscape(string(req.PeerID[:])),
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
		q = append(q, "trackerid="+url.QueryEscape(req.TrackerID))
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxBody {
		return nil, errors.New("reply larger than 1 MiB")
	}
	if resp.StatusCode != http.StatusOK {
		// Some trackers put a bencoded failure reason in an error reply.
		var f *FailureError
		if _, err := ParseHTTPResponse(body); errors.As(err, &f) {
			return nil, err
		}
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return ParseHTTPResponse(body)
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
			r, err = nil, fmt.Errorf("bad reply: %v", p)
		}
	}()
	var raw httpReply
	if err := bencode.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("bad reply: %w", err)
	}
	if raw.Failure != nil {
		return nil, &FailureError{Reason: *raw.Failure}
	}
	if raw.Interval < 0 || raw.MinInterval < 0 || raw.Interval > 1e6 || raw.MinInterval > 1e6 {
		return nil, fmt.Errorf("bad interval %d / min interval %d", raw.Interval, raw.MinInterval)
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
			return nil, errors.New("peers is neither a string nor a list")
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
		return nil, fmt.Errorf("compact peer list of %d bytes is not a multiple of %d", len(b), n)
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
