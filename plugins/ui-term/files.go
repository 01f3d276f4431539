package main

import (
	"context"
	"slices"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/torrent-dev/torrent/sdk"
)

// fileSetMsg is the host's answer to a SetFile of file index: nil, or
// why it refused; then the view shows the file as it was (was).
type fileSetMsg struct {
	err   error
	index int
	was   sdk.FileInfo
}

// filesKey handles the keys of the files view: the cursor, choosing and
// skipping the file under it, its priority. It reports whether it took
// the key.
func (m *model) filesKey(ks string) (tea.Cmd, bool) {
	if m.view != viewFiles || m.info == nil || len(m.info.Files) == 0 {
		return nil, false
	}
	switch ks {
	case "up", "k":
		m.moveCursor(-1)
	case "down", "j":
		m.moveCursor(1)
	case "pgup":
		m.moveCursor(-m.filesRows())
	case "pgdown":
		m.moveCursor(m.filesRows())
	case "g", "home":
		m.moveCursor(-1 << 30)
	case "G", "end":
		m.moveCursor(1 << 30)
	case " ":
		f := m.info.Files[m.fileCur]
		return m.setFile(m.fileCur, !f.Skipped, f.Priority), true
	case "+", "=":
		f := m.info.Files[m.fileCur]
		return m.setFile(m.fileCur, f.Skipped, min(f.Priority+1, sdk.PriorityHigh)), true
	case "-":
		f := m.info.Files[m.fileCur]
		return m.setFile(m.fileCur, f.Skipped, max(f.Priority-1, sdk.PriorityLow)), true
	default:
		return nil, false
	}
	return nil, true
}

// filesRows is how many files the files view shows at once.
func (m *model) filesRows() int { return m.bodyRows(1) }

// moveCursor moves the files view's cursor by d, scrolling to keep it in
// sight.
func (m *model) moveCursor(d int) {
	n := len(m.info.Files)
	m.fileCur = max(0, min(m.fileCur+d, n-1))
	rows := m.filesRows()
	s := &m.scroll[viewFiles]
	*s = min(*s, max(0, n-rows)) // as scrolled shows it
	if m.fileCur < *s {
		*s = m.fileCur
	}
	if m.fileCur >= *s+rows {
		*s = m.fileCur - rows + 1
	}
}

// setFile shows the change at once and asks the host for it; the host's
// next update carries the torrent as it now is. The torrent description
// is copied, not changed: it is the SDK's.
func (m *model) setFile(i int, skip bool, prio int) tea.Cmd {
	f := m.info.Files[i]
	if f.Skipped == skip && f.Priority == prio {
		return nil
	}
	m.showFile(i, sdk.FileInfo{Path: f.Path, Length: f.Length, Offset: f.Offset, Skipped: skip, Priority: prio})
	m.fileErr = ""
	host := m.host
	if host == nil {
		return nil
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return fileSetMsg{err: host.SetFile(ctx, i, skip, prio), index: i, was: f}
	}
}

// showFile shows file i as f, on a copy of the torrent description.
func (m *model) showFile(i int, f sdk.FileInfo) {
	info := *m.info
	info.Files = slices.Clone(info.Files)
	info.Files[i] = f
	m.info = &info
}

// fileSet takes the host's answer: a refusal is said in the title and
// the file shown as it was, unless the host has sent the torrent since.
func (m *model) fileSet(msg fileSetMsg) {
	if msg.err == nil {
		return
	}
	m.fileErr = msg.err.Error()
	if msg.index < len(m.info.Files) && m.info.Files[msg.index].Path == msg.was.Path {
		m.showFile(msg.index, msg.was)
	}
}

// priorityTag marks a file's priority in the files view.
func priorityTag(p int) string {
	switch p {
	case sdk.PriorityHigh:
		return "[high] "
	case sdk.PriorityLow:
		return "[low] "
	}
	return ""
}
