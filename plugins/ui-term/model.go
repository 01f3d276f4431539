package main

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/torrent-dev/torrent/sdk"
)

type (
	updateMsg   sdk.Update
	hostGoneMsg struct{ err error }
)

// Views, in the order of their number keys.
const (
	viewMain = iota
	viewPeers
	viewFiles
	viewTrackers
	viewRates
	viewLog
	numViews
)

var viewNames = [numViews]string{"main", "peers", "files", "trackers", "rates", "log"}

// viewKeys: each view's letter; pressing it again goes back to main.
var viewKeys = map[string]int{"p": viewPeers, "f": viewFiles, "t": viewTrackers, "r": viewRates, "l": viewLog}

const (
	maxLog = 2000
)

// model is the whole UI state; View is a pure function of it, which the
// golden tests rely on.
type model struct {
	host     sdk.Host
	now      func() time.Time
	w, h     int
	view     int
	prevView int
	help     bool
	info     *sdk.TorrentInfo
	u        sdk.Update
	downHist history
	upHist   history
	lastHist time.Time
	logs     []sdk.LogLine
	scroll   [numViews]int // per view: lines scrolled (log: from the bottom)
	peerSort int           // index into peerSorts
	fileCur  int           // the files view's cursor (files.go)
	fileErr  string        // why the host refused the last file change
	gone     bool
}

func newModel(host sdk.Host) *model {
	return &model{host: host, now: time.Now, w: 80, h: 24}
}

func (m *model) Init() tea.Cmd { return nil }

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
	case updateMsg:
		m.apply(sdk.Update(msg))
	case fileSetMsg:
		m.fileSet(msg)
	case hostGoneMsg:
		m.gone = true
		return m, tea.Quit
	case tea.KeyMsg:
		// Keys typed faster than a read arrive as one message of
		// several runes: each is a key of its own.
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			var cmds []tea.Cmd
			for _, r := range msg.Runes {
				cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}}))
			}
			return m, tea.Sequence(cmds...)
		}
		return m, m.key(msg)
	case tea.MouseMsg:
		m.mouse(msg)
	}
	return m, nil
}

func (m *model) apply(u sdk.Update) {
	if u.Torrent != nil {
		m.info = u.Torrent
		m.fileCur = min(m.fileCur, max(0, len(m.info.Files)-1))
	}
	m.u = u
	m.logs = append(m.logs, u.Log...)
	if over := len(m.logs) - maxLog; over > 0 {
		m.logs = m.logs[over:]
	}
	// One history sample a second, however often updates come.
	if now := m.now(); now.Sub(m.lastHist) >= time.Second {
		m.lastHist = now
		m.downHist.add(u.DownRate)
		m.upHist.add(u.UpRate)
	}
}

func (m *model) key(k tea.KeyMsg) tea.Cmd {
	if m.help && k.String() != "ctrl+c" {
		m.help = false
		return nil
	}
	ks := k.String()
	if v, ok := viewKeys[ks]; ok {
		if m.view == v {
			v = viewMain
		}
		m.view = v
		return nil
	}
	if len(ks) == 1 && ks[0] >= '1' && ks[0] < '1'+numViews {
		m.view = int(ks[0] - '1')
		return nil
	}
	if cmd, ok := m.filesKey(ks); ok {
		return cmd
	}
	switch ks {
	case "q", "ctrl+c":
		return m.quit()
	case "ctrl+z": // the original client's key: log view and back
		if m.view == viewLog {
			m.view = m.prevView
		} else {
			m.prevView, m.view = m.view, viewLog
		}
	case "tab":
		m.view = (m.view + 1) % numViews
	case "shift+tab":
		m.view = (m.view + numViews - 1) % numViews
	case "s":
		if m.view == viewPeers {
			m.peerSort = (m.peerSort + 1) % len(peerSorts)
		}
	case "esc":
		m.view = viewMain
	case "?":
		m.help = true
	case "up", "k":
		m.scrollBy(-1)
	case "down", "j":
		m.scrollBy(1)
	case "pgup":
		m.scrollBy(-m.pageLen())
	case "pgdown", " ":
		m.scrollBy(m.pageLen())
	case "g", "home":
		m.scrollBy(-1 << 30)
	case "G", "end":
		m.scrollBy(1 << 30)
	}
	return nil
}

// mouse scrolls the current view with the wheel, three lines a notch.
func (m *model) mouse(e tea.MouseMsg) {
	if e.Action != tea.MouseActionPress {
		return
	}
	d := 0
	switch e.Button {
	case tea.MouseButtonWheelUp:
		d = -3
	case tea.MouseButtonWheelDown:
		d = 3
	}
	if m.view == viewFiles && m.info != nil && len(m.info.Files) > 0 {
		m.moveCursor(d) // the cursor goes with the list
	} else {
		m.scrollBy(d)
	}
}

// scrollBy moves the current view's list; the log scrolls from its end.
func (m *model) scrollBy(d int) {
	if m.view == viewLog {
		d = -d
	}
	s := &m.scroll[m.view]
	*s = max(0, min(*s+d, m.listLen()))
}

func (m *model) pageLen() int { return max(1, m.h-8) }

func (m *model) listLen() int {
	switch m.view {
	case viewPeers:
		return len(m.u.Peers)
	case viewLog:
		return len(m.logs)
	case viewTrackers:
		return len(m.trackers())
	case viewRates:
		return 0
	}
	if m.info != nil {
		return len(m.info.Files)
	}
	return 0
}

// quit asks the host to stop the whole client, then leaves.
func (m *model) quit() tea.Cmd {
	host := m.host
	return tea.Sequence(func() tea.Msg {
		if host != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			host.Quit(ctx)
		}
		return nil
	}, tea.Quit)
}
