// Package hostapi serves the host API (proto/host/v1) that UI and
// filesystem plugins use: a stream of updates and commands.
package hostapi

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// LogRing keeps the newest log lines for plugins; it is an io.Writer for
// hclog's formatted output.
type LogRing struct {
	mu    sync.Mutex
	lines []Line
	first int64 // sequence number of lines[0]
	max   int
}

// Line is one log line.
type Line struct {
	Time  time.Time
	Level string
	Text  string
}

// NewLogRing keeps the last n lines.
func NewLogRing(n int) *LogRing { return &LogRing{max: n} }

// Write takes one or more formatted lines.
func (r *LogRing) Write(p []byte) (int, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		text := string(l)
		r.lines = append(r.lines, Line{Time: now, Level: level(text), Text: text})
	}
	if over := len(r.lines) - r.max; over > 0 {
		r.lines = append(r.lines[:0], r.lines[over:]...)
		r.first += int64(over)
	}
	return len(p), nil
}

// level finds hclog's "[INFO]" tag.
func level(s string) string {
	for _, l := range []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR"} {
		if strings.Contains(s, "["+l+"]") {
			return l
		}
	}
	return ""
}

// Since returns the lines after sequence number seq and the next seq.
func (r *LogRing) Since(seq int64) ([]Line, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := max(seq-r.first, 0)
	if start >= int64(len(r.lines)) {
		return nil, r.first + int64(len(r.lines))
	}
	return append([]Line(nil), r.lines[start:]...), r.first + int64(len(r.lines))
}
