// Package webseed reads a torrent's data from HTTP servers, the web seeds
// of BEP 19 (the metainfo's url-list). A Seed maps a range of the
// torrent's concatenated data onto the files under its URL and fetches it
// with ranged GETs, one per file the range touches. Whatever the server
// does wrong (an HTTP error, a body shorter or other than asked for, a
// redirect loop, a stall) comes back as an error for that seed; nothing it
// sends is read past the bytes asked for. Whether the bytes are the right
// ones is for the caller's hash check to say.
package webseed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors a fetch wraps, so callers and tests can tell the causes apart.
var (
	ErrStatus    = errors.New("unexpected HTTP status")
	ErrShort     = errors.New("short body")
	ErrRange     = errors.New("response is not the range asked for")
	ErrRedirects = errors.New("too many redirects")
)

// Limits on what one seed may cost us.
const (
	// MaxFetch is the most one Fetch reads: callers ask for a few pieces
	// at a time.
	MaxFetch = 32 << 20
	// maxSkip is how far into a file we read and discard when a server
	// ignores Range and sends the whole file (Python's http.server does).
	maxSkip      = 64 << 20
	maxRedirects = 5
	// DefaultTimeout bounds one GET, headers and body.
	DefaultTimeout = 60 * time.Second
)

// File is one file of the torrent as a web seed serves it.
type File struct {
	Path   []string // components below the torrent's name; [name] for a single-file torrent
	Length int64
	Pad    bool // BEP 47 pad file: zeros, never fetched
}

// Layout is the torrent's files, in order.
type Layout struct {
	Name      string
	MultiFile bool
	Files     []File
}

// Seed is one web seed of one torrent. Its methods may be called from
// several goroutines at once.
type Seed struct {
	url     string // as the torrent gives it, any password masked: for logs and views
	files   []seedFile
	total   int64
	client  *http.Client
	timeout time.Duration
}

type seedFile struct {
	url    string // "" for a pad file
	shown  string // url with any password masked, for errors
	off    int64  // in the torrent's data
	length int64
}

// Options adjust a Seed; the zero value is the default.
type Options struct {
	Timeout   time.Duration     // one GET; default DefaultTimeout
	Transport http.RoundTripper // default: a transport of the package's own
	UserAgent string
}

// New prepares a seed for rawURL. Only http and https URLs are accepted.
func New(rawURL string, l Layout, opt Options) (*Seed, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("web seed %q: %w", rawURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web seed %q: not an http or https URL", rawURL)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Transport == nil {
		opt.Transport = defaultTransport
	}
	// A URL may carry credentials (user:password@host); logs, errors and
	// the peers view show it masked.
	s := &Seed{url: u.Redacted(), timeout: opt.Timeout}
	s.client = &http.Client{Transport: userAgent{opt.Transport, opt.UserAgent}, CheckRedirect: checkRedirect}
	for _, f := range l.Files {
		sf := seedFile{off: s.total, length: f.Length}
		if !f.Pad {
			sf.url = fileURL(u, l, f)
			sf.shown = redacted(sf.url)
		}
		s.files = append(s.files, sf)
		s.total += f.Length
	}
	return s, nil
}

// URL is the seed's URL as the torrent gives it, any password masked.
func (s *Seed) URL() string { return s.url }

// redacted is raw with any password masked.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// fileURL is where f is found under base (BEP 19): a single-file torrent's
// URL names the file itself unless it ends in a slash, when the torrent's
// name is added; a multi-file torrent's URL is the directory that holds
// the torrent's name as a directory.
func fileURL(base *url.URL, l Layout, f File) string {
	u := *base
	var parts []string
	switch {
	case l.MultiFile:
		parts = append([]string{l.Name}, f.Path...)
	case strings.HasSuffix(u.Path, "/"):
		parts = []string{l.Name}
	default:
		return u.String()
	}
	esc := make([]string, len(parts))
	for i, p := range parts {
		esc[i] = url.PathEscape(p)
	}
	raw := u.EscapedPath()
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	raw += strings.Join(esc, "/")
	// RawPath keeps our escaping; Path is its unescaped form.
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path, u.RawPath = p, raw
	}
	return u.String()
}

var defaultTransport = &http.Transport{
	Proxy:                  http.ProxyFromEnvironment,
	DialContext:            (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:    15 * time.Second,
	ResponseHeaderTimeout:  30 * time.Second,
	MaxResponseHeaderBytes: 64 << 10,
	MaxIdleConnsPerHost:    4,
	IdleConnTimeout:        90 * time.Second,
	// Ranges of compressed bodies would be ranges of the compressed
	// bytes: ask for the data as it is.
	DisableCompression: true,
}

type userAgent struct {
	rt http.RoundTripper
	ua string
}

func (t userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.ua != "" {
		r.Header.Set("User-Agent", t.ua)
	}
	return t.rt.RoundTrip(r)
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d", ErrRedirects, maxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %q URL", req.URL.Scheme)
	}
	return nil
}

// Fetch reads bytes [off, off+len(dst)) of the torrent's data into dst.
func (s *Seed) Fetch(ctx context.Context, off int64, dst []byte) error {
	n := int64(len(dst))
	if off < 0 || n > MaxFetch || off+n > s.total {
		return fmt.Errorf("web seed %s: range %d+%d outside the torrent's %d bytes (or over %d)", s.url, off, n, s.total, MaxFetch)
	}
	for _, f := range s.files {
		if n == 0 {
			break
		}
		if off >= f.off+f.length || f.length == 0 {
			continue
		}
		at := off - f.off
		k := min(n, f.length-at)
		if f.url == "" {
			clear(dst[:k])
		} else if err := s.get(ctx, f, at, dst[:k]); err != nil {
			return err
		}
		dst, off, n = dst[k:], off+k, n-k
	}
	return nil
}

// get reads bytes [at, at+len(dst)) of one file.
func (s *Seed) get(ctx context.Context, f seedFile, at int64, dst []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	end := at + int64(len(dst)) - 1
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return fmt.Errorf("web seed %s: %w", f.shown, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", at, end))
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("web seed: GET %s: %w", f.shown, err)
	}
	// Closing without reading the rest: whatever the server sends beyond
	// what we asked for is never read.
	defer resp.Body.Close()
	if err := checkResponse(resp, at, end, f.length); err != nil {
		return fmt.Errorf("web seed: GET %s bytes %d-%d: %w", f.shown, at, end, err)
	}
	body := io.Reader(resp.Body)
	if resp.StatusCode == http.StatusOK && at > 0 {
		if _, err := io.CopyN(io.Discard, body, at); err != nil {
			return fmt.Errorf("web seed: GET %s: skipping %d bytes: %w", f.shown, at, shortErr(err))
		}
	}
	if _, err := io.ReadFull(body, dst); err != nil {
		return fmt.Errorf("web seed: GET %s bytes %d-%d: %w", f.shown, at, end, shortErr(err))
	}
	return nil
}

func shortErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", ErrShort, err)
	}
	return err
}

// checkResponse accepts a 206 for exactly the range asked, or a 200 with
// the whole file (a server that ignores Range) when the skip is bounded.
func checkResponse(resp *http.Response, start, end, size int64) error {
	switch resp.StatusCode {
	case http.StatusPartialContent:
		a, b, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return err
		}
		if a != start || b != end {
			return fmt.Errorf("%w: got bytes %d-%d", ErrRange, a, b)
		}
		if total != size {
			return fmt.Errorf("%w: the file is %d bytes, the torrent says %d", ErrRange, total, size)
		}
	case http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != size {
			return fmt.Errorf("%w: the file is %d bytes, the torrent says %d", ErrRange, resp.ContentLength, size)
		}
		if start > maxSkip {
			return fmt.Errorf("%w: the server ignores Range", ErrRange)
		}
	default:
		return fmt.Errorf("%w: %s", ErrStatus, resp.Status)
	}
	return nil
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL" (RFC 9110 14.4).
func parseContentRange(cr string) (first, last, total int64, err error) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	r, t, ok2 := strings.Cut(rest, "/")
	a, b, ok3 := strings.Cut(r, "-")
	if ok && ok2 && ok3 {
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		total, err3 := strconv.ParseInt(t, 10, 64)
		if err1 == nil && err2 == nil && err3 == nil && 0 <= first && first <= last && last < total {
			return first, last, total, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("%w: Content-Range %q", ErrRange, cr)
}
