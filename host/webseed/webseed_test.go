package webseed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tree writes files under dir/name and returns the layout and the
// torrent's concatenated data (pad files as zeros).
func tree(t *testing.T, dir, name string, files []File) (Layout, []byte) {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{3})
	var all []byte
	for _, f := range files {
		b := make([]byte, f.Length)
		if !f.Pad {
			rng.Read(b)
			p := filepath.Join(append([]string{dir, name}, f.Path...)...)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, b...)
	}
	return Layout{Name: name, MultiFile: true, Files: files}, all
}

// fileServer serves dir on loopback with Go's net/http (ranges included).
func fileServer(t *testing.T, dir string) *httptest.Server {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchMultiFileAcrossBoundaries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, all := tree(t, dir, "my torrent", []File{
		{Path: []string{"a b.bin"}, Length: 1000},
		{Path: []string{"empty"}, Length: 0},
		{Path: []string{".pad", "24"}, Length: 24, Pad: true}, // BEP 47: never fetched (not on the server)
		{Path: []string{"sub", "100%#?.bin"}, Length: 777},
		{Path: []string{"sub", "c"}, Length: 1},
		{Path: []string{"z"}, Length: 5000},
	})
	srv := fileServer(t, dir)
	for _, base := range []string{srv.URL, srv.URL + "/"} {
		s, err := New(base, l, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range [][2]int{{0, len(all)}, {990, 40}, {1010, 800}, {1023, 778}, {1801, 1}, {0, 1}, {len(all) - 1, 1}} {
			got := make([]byte, r[1])
			if err := s.Fetch(context.Background(), int64(r[0]), got); err != nil {
				t.Fatalf("%s: fetch %v: %v", base, r, err)
			}
			if !bytes.Equal(got, all[r[0]:r[0]+r[1]]) {
				t.Fatalf("%s: fetch %v: wrong bytes", base, r)
			}
		}
	}
}

func TestFileURLs(t *testing.T) {
	t.Parallel()
	single := Layout{Name: "x y.iso", Files: []File{{Path: []string{"x y.iso"}, Length: 1}}}
	multi := Layout{Name: "d", MultiFile: true, Files: []File{{Path: []string{"a", "b#1"}, Length: 1}}}
	for name, c := range map[string]struct {
		base string
		l    Layout
		want string
	}{
		"single names the file":     {"http://h/pub/file.iso", single, "http://h/pub/file.iso"},
		"single in a directory":     {"http://h/pub/", single, "http://h/pub/x%20y.iso"},
		"multi without a slash":     {"http://h/pub", multi, "http://h/pub/d/a/b%231"},
		"multi with a slash":        {"http://h/pub/", multi, "http://h/pub/d/a/b%231"},
		"query kept":                {"http://h:8080/p/?k=v", multi, "http://h:8080/p/d/a/b%231?k=v"},
		"escaped base stays as was": {"http://h/a%20b/", single, "http://h/a%20b/x%20y.iso"},
	} {
		s, err := New(c.base, c.l, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := s.files[0].url; got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
	for _, bad := range []string{"ftp://h/x", "file:///etc/passwd", "http://", "::"} {
		if _, err := New(bad, single, Options{}); err == nil {
			t.Errorf("%q accepted as a web seed", bad)
		}
	}
}

// A server that ignores Range (as Python's http.server does) still works:
// the skipped part is read and thrown away.
func TestServerIgnoringRange(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
	}))
	defer srv.Close()
	s, err := New(srv.URL+"/f", Layout{Name: "f", Files: []File{{Path: []string{"f"}, Length: int64(len(data))}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	if err := s.Fetch(context.Background(), 5003, got); err != nil || !bytes.Equal(got, data[5003:5103]) {
		t.Fatalf("fetch from a server ignoring Range: %v", err)
	}
}

// Each misbehaving server gives an error of its kind, never a panic and
// never data: the caller backs the seed off.
func TestHostileServers(t *testing.T) {
	t.Parallel()
	const size = 4096
	data := bytes.Repeat([]byte{7}, size)
	l := Layout{Name: "f", Files: []File{{Path: []string{"f"}, Length: size}}}
	partial := func(w http.ResponseWriter, first, last, total int, body []byte) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, total))
		w.Header().Set("Content-Length", fmt.Sprint(last-first+1))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body)
	}
	for name, c := range map[string]struct {
		h    http.HandlerFunc
		want error
	}{
		"404": {func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, ErrStatus},
		"500": {func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, ErrStatus},
		"short body": {func(w http.ResponseWriter, r *http.Request) {
			partial(w, 100, 199, size, data[:40]) // promises 100 bytes, sends 40, closes
		}, ErrShort},
		"other range": {func(w http.ResponseWriter, r *http.Request) { partial(w, 0, 99, size, data[:100]) }, ErrRange},
		"other size":  {func(w http.ResponseWriter, r *http.Request) { partial(w, 100, 199, size+1, data[:100]) }, ErrRange},
		"garbage range": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes ??")
			w.WriteHeader(http.StatusPartialContent)
		}, ErrRange},
		"redirect loop": {func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }, ErrRedirects},
		"whole file of another size": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.Write(data[:10])
		}, ErrRange},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(c.h)
			defer srv.Close()
			s, err := New(srv.URL+"/f", l, Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Fetch(context.Background(), 100, make([]byte, 100))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

// A body longer than the range asked is read only as far as asked.
func TestOversizedBodyIsNotRead(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	sent := make(chan int64, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-99/%d", size))
		w.WriteHeader(http.StatusPartialContent)
		var n int64
		chunk := make([]byte, 64<<10)
		for n < 1<<30 { // a gigabyte, if we read it
			k, err := w.Write(chunk)
			n += int64(k)
			if err != nil {
				break
			}
		}
		sent <- n
	}))
	defer srv.Close()
	s, _ := New(srv.URL+"/f", Layout{Name: "f", Files: []File{{Path: []string{"f"}, Length: size}}}, Options{})
	if err := s.Fetch(context.Background(), 0, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if n := <-sent; n >= 1<<30 {
		t.Fatalf("the server could send all %d bytes: the body was read to its end", n)
	}
}

// A server that never answers is given up after the timeout.
func TestStalledServerTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	s, _ := New(srv.URL+"/f", Layout{Name: "f", Files: []File{{Path: []string{"f"}, Length: 1000}}}, Options{Timeout: 300 * time.Millisecond})
	if err := s.Fetch(context.Background(), 0, make([]byte, 10)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

func TestFetchOutsideTheTorrent(t *testing.T) {
	t.Parallel()
	s, _ := New("http://127.0.0.1:1/f", Layout{Name: "f", Files: []File{{Path: []string{"f"}, Length: 10}}}, Options{})
	for _, r := range [][2]int64{{-1, 1}, {5, 6}, {11, 0}} {
		if err := s.Fetch(context.Background(), r[0], make([]byte, r[1])); err == nil {
			t.Errorf("fetch %v of a 10-byte torrent: no error", r)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	var b Backoff
	now := time.Unix(1000, 0)
	if !b.Ready(now) {
		t.Fatal("a new seed is not ready")
	}
	var waits []time.Duration
	for range 12 {
		waits = append(waits, b.Fail(now))
	}
	if waits[0] != BackoffMin || waits[1] != 2*BackoffMin || waits[11] != BackoffMax {
		t.Fatalf("waits %v", waits)
	}
	if b.Ready(now.Add(BackoffMax-time.Second)) || !b.Ready(now.Add(BackoffMax)) {
		t.Fatal("ready before the wait is over, or not after")
	}
	b.OK()
	if d := b.Fail(now); d != BackoffMin || b.Fails() != 1 {
		t.Fatalf("after a success the wait is %v", d)
	}
}

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes */100", "bytes 5-4/10", "bytes -1-2/3", "bytes 9223372036854775807-1/2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, b, total, err := parseContentRange(s)
		if err == nil && !(0 <= a && a <= b && b < total) {
			t.Fatalf("%q accepted as %d-%d/%d", s, a, b, total)
		}
	})
}

// Response headers beyond a small bound are refused, not buffered.
func TestHugeHeadersRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 200 {
			w.Header().Set(fmt.Sprintf("X-Junk-%d", i), strings.Repeat("j", 1000))
		}
		w.WriteHeader(http.StatusPartialContent)
	}))
	defer srv.Close()
	s, _ := New(srv.URL+"/f", Layout{Name: "f", Files: []File{{Path: []string{"f"}, Length: 1000}}}, Options{})
	if err := s.Fetch(context.Background(), 0, make([]byte, 10)); err == nil || !strings.Contains(err.Error(), "header") {
		t.Fatalf("got %v, want an error about the headers", err)
	}
}

// A web seed's URL may carry a password: the request authenticates with
// it, but the seed's URL and its errors (which reach logs and the peers
// view) show it masked.
func TestPasswordMasked(t *testing.T) {
	t.Parallel()
	auth := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		auth <- user + ":" + pass
		http.NotFound(w, r)
	}))
	defer srv.Close()
	raw := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1) + "/f"
	s, err := New(raw, Layout{Name: "f", Files: []File{{Path: []string{"f"}, Length: 100}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.URL(), "s3cret") || !strings.Contains(s.URL(), "alice") {
		t.Errorf("URL() = %q, want the user with the password masked", s.URL())
	}
	err = s.Fetch(context.Background(), 0, make([]byte, 10))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("fetch from a 404 with credentials: error %v, want one without the password", err)
	}
	if got := <-auth; got != "alice:s3cret" {
		t.Errorf("server saw basic auth %q, want alice:s3cret", got)
	}
}
