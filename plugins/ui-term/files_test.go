package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/torrent-dev/torrent/sdk"
)

// setFileCall is one SetFile the model asked of the host.
type setFileCall struct {
	Index    int
	Skip     bool
	Priority int
}

// recordingHost is a host that records SetFile calls and refuses those
// for refuse.
type recordingHost struct {
	mu     sync.Mutex
	calls  []setFileCall
	refuse int
}

func (h *recordingHost) Watch(context.Context, func(sdk.Update), ...sdk.WatchOption) error {
	return nil
}
func (h *recordingHost) Quit(context.Context) error { return nil }
func (h *recordingHost) SetFile(_ context.Context, i int, skip bool, prio int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, setFileCall{i, skip, prio})
	if i == h.refuse {
		return errors.New("at least one file must stay chosen")
	}
	return nil
}

var _ sdk.Host = (*recordingHost)(nil)

// press sends keys to m and runs the commands they return, as the
// program would, feeding their messages back.
func press(m *model, keys ...string) {
	for _, k := range keys {
		_, cmd := m.Update(key(k))
		if cmd != nil {
			if msg := cmd(); msg != nil {
				m.Update(msg)
			}
		}
	}
}

// Keys of the files view become SetFile calls for the file at the
// cursor, and the view shows the change before the host's next update.
func TestFilesKeysSetFile(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		keys  []string
		calls []setFileCall
		cur   int
	}{
		"space skips the first file": {keys: []string{"f", " "}, calls: []setFileCall{{0, true, 0}}},
		"space twice chooses it again": {keys: []string{"f", " ", " "},
			calls: []setFileCall{{0, true, 0}, {0, false, 0}}},
		"down then space": {keys: []string{"f", "j", "down", " "}, calls: []setFileCall{{2, true, 0}}, cur: 2},
		"plus twice is high, then no more": {keys: []string{"f", "+", "+", "="},
			calls: []setFileCall{{0, false, 1}}},
		"minus is low": {keys: []string{"f", "G", "-", "-"}, calls: []setFileCall{{3, false, -1}}, cur: 3},
		"low back to normal": {keys: []string{"f", "-", "+"},
			calls: []setFileCall{{0, false, -1}, {0, false, 0}}},
		"cursor stops at the ends":                {keys: []string{"f", "k", "G", "j", "j", " "}, calls: []setFileCall{{3, true, 0}}, cur: 3},
		"space outside the files view is no call": {keys: []string{"p", " ", "+", "-"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &recordingHost{refuse: -1}
			m := play(80, 24, stream(3))
			m.host = h
			press(m, tc.keys...)
			if !slices.Equal(tc.calls, h.calls) {
				t.Fatalf("SetFile calls %+v, want %+v", h.calls, tc.calls)
			}
			if m.fileCur != tc.cur {
				t.Fatalf("cursor on file %d, want %d", m.fileCur, tc.cur)
			}
			for _, c := range tc.calls { // the last call per file is what the view shows
				f := m.info.Files[c.Index]
				last := tc.calls[len(tc.calls)-1]
				if c == last && (f.Skipped != c.Skip || f.Priority != c.Priority) {
					t.Fatalf("file %d shows skipped %v priority %d, want %+v", c.Index, f.Skipped, f.Priority, c)
				}
			}
		})
	}
}

// A change the host refuses is said in the files view's title, and the
// file is shown as it was: the host sends no new torrent for it.
func TestFilesKeysRefused(t *testing.T) {
	t.Parallel()
	us := stream(3)
	h := &recordingHost{refuse: 0}
	m := play(80, 24, us)
	m.host = h
	press(m, "f", " ")
	if !strings.Contains(m.View(), "at least one file must stay chosen") {
		t.Fatalf("the refusal is not shown:\n%s", m.View())
	}
	if m.info.Files[0].Skipped || strings.Contains(lineWith(m.View(), "filesystem.squashfs"), "skipped") {
		t.Fatalf("file 0 still shown skipped after the refusal:\n%s", m.View())
	}
	if us[0].Torrent.Files[0].Skipped {
		t.Fatal("the model changed the SDK's torrent description")
	}
	press(m, "j", " ") // the next change clears the message
	if strings.Contains(m.View(), "must stay chosen") || !m.info.Files[1].Skipped {
		t.Fatalf("after a change the host takes:\n%s", m.View())
	}
}

// lineWith is the first line of screen containing s, or "".
func lineWith(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// The cursor follows the list when the terminal is too short for it, and
// the wheel moves it.
func TestFilesCursorScrolls(t *testing.T) {
	t.Parallel()
	m := play(40, 8, stream(3), "f")
	m.host = &recordingHost{refuse: -1}
	rows := m.filesRows()
	if rows >= len(m.info.Files) {
		t.Fatalf("%d rows show all %d files: the test needs fewer", rows, len(m.info.Files))
	}
	press(m, "G")
	if m.scroll[viewFiles] != len(m.info.Files)-rows {
		t.Fatalf("scrolled %d with the cursor on the last file, want %d", m.scroll[viewFiles], len(m.info.Files)-rows)
	}
	if !strings.Contains(m.View(), ">") {
		t.Fatalf("the cursor is off screen:\n%s", m.View())
	}
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelUp})
	if m.fileCur != len(m.info.Files)-4 || m.scroll[viewFiles] != m.fileCur {
		t.Fatalf("after a wheel notch up: cursor %d scroll %d", m.fileCur, m.scroll[viewFiles])
	}
}
