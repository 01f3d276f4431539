package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-isatty"

	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/session"
)

// console is the output without -g: on a terminal one refreshing status
// line under the log lines; otherwise plain log lines, with a progress line
// every few seconds.
type console struct {
	mu     sync.Mutex
	tty    bool
	status string // current status line, redrawn under each log line
	out    io.Writer
	logger hclog.Logger
	ring   *hostapi.LogRing // recent lines for UI plugins
	quiet  atomic.Bool      // a UI plugin owns the terminal: log to the ring and file only
}

func newConsole(f *downloadFlags) (*console, func(), error) {
	c := &console{out: os.Stderr, tty: isTerminal(), ring: hostapi.NewLogRing(1000)}
	level := hclog.Info
	if f.verbose {
		level = hclog.Debug
	}
	var w io.Writer = c
	closeLog := func() {}
	if f.logFile != "" {
		lf, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, badInput("-log: %v", err)
		}
		w = io.MultiWriter(c, lf)
		closeLog = func() { lf.Close() }
	}
	c.logger = hclog.New(&hclog.LoggerOptions{
		Name: "torrent", Level: level, Output: w, Color: hclog.ColorOff, TimeFormat: "15:04:05.000",
	})
	return c, closeLog, nil
}

// Write takes log lines: on a terminal the status line is cleared first
// and drawn again after.
func (c *console) Write(p []byte) (int, error) {
	c.ring.Write(p)
	if c.quiet.Load() {
		return len(p), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty {
		return c.out.Write(p)
	}
	fmt.Fprintf(c.out, "\r\033[K%s%s", p, c.status)
	return len(p), nil
}

func (c *console) setStatus(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = s
	if c.tty && !c.quiet.Load() {
		fmt.Fprintf(c.out, "\r\033[K%s", s)
	}
}

// finishStatus ends the self-overwriting status line: its last state
// stays on screen with a line break after it, and later log lines start
// on a clean line. Under a UI it is only forgotten.
func (c *console) finishStatus(last string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty && !c.quiet.Load() && last != "" {
		fmt.Fprintf(c.out, "\r\033[K%s\n", last)
	}
	c.status = ""
}

// checking reports the start-up check of the data on disk.
func (c *console) checking(done, total int) {
	if !c.tty {
		return
	}
	line := fmt.Sprintf("checking data on disk: %d/%d pieces", done, total)
	if done == total {
		c.finishStatus(line)
		return
	}
	c.setStatus(line)
}

// show keeps the status line (or periodic progress lines) going until stop.
func (c *console) show(ctx context.Context, s *session.Session) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	every := time.Second
	if !c.tty {
		every = 5 * time.Second
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				c.finishStatus(statusLine(s))
				return
			case <-t.C:
				if c.quiet.Load() {
					continue
				}
				if c.tty {
					c.setStatus(statusLine(s))
				} else {
					c.logger.Info("progress", "status", statusLine(s))
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func statusLine(s *session.Session) string {
	m := s.Meta()
	if m == nil {
		ms, _ := s.MetadataStatus()
		return ms.String()
	}
	st := s.Stats()
	done, total := st.Progress(m.Info.PieceSize) // the files chosen
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1f%% of %s  down %s/s  up %s/s  peers %d/%d", pct, human(total),
		human(st.DownRate), human(st.UpRate), len(st.Peers), st.Known)
	switch {
	case st.Status != "": // what stops the download, e.g. "disk full at /data: retrying"
		b.WriteString("  " + st.Status)
	case st.Missing == 0:
		b.WriteString("  complete")
	case st.Lazy:
		l, _ := s.LazyStats()
		b.WriteString("  " + lazyState(&jsonLazy{Read: l.Read, Asked: l.Asked, Fetched: st.Verified}))
	case st.DownRate > 0:
		left := total - done
		eta := time.Duration(left/st.DownRate) * time.Second
		fmt.Fprintf(&b, "  ETA %s", eta)
	default:
		b.WriteString("  ETA -")
	}
	return b.String()
}

func isattyFd(fd uintptr) bool { return isatty.IsTerminal(fd) }
