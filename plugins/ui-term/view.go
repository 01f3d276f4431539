package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/torrent-dev/torrent/sdk"
)

var (
	titleStyle = lipgloss.NewStyle().Bold(true)
	dimStyle   = lipgloss.NewStyle().Faint(true)
	doneStyle  = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	warnStyle  = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
	errStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	keyStyle   = lipgloss.NewStyle().Reverse(true)
)

func (m *model) View() string {
	if m.w < 1 || m.h < 1 {
		return ""
	}
	if m.info == nil {
		return ansi.Truncate("waiting for the client…", m.w, "…")
	}
	var body []string
	switch {
	case m.help:
		body = m.helpView()
	case m.view == viewPeers:
		body = m.peersView()
	case m.view == viewFiles:
		body = m.filesView()
	case m.view == viewTrackers:
		body = m.trackersView()
	case m.view == viewRates:
		body = m.ratesView()
	case m.view == viewLog:
		body = m.logView()
	default:
		body = m.mainView()
	}
	var lines []string
	if m.help { // the keys take the whole screen: they are why it is open
		lines = body
	} else {
		lines = append(m.header(), body...)
	}
	for len(lines) < m.h-1 {
		lines = append(lines, "")
	}
	// The footer is the last line, and the header's first lines are kept
	// first when the terminal is too short for both.
	lines = append(lines[:max(0, m.h-1)], m.footer())
	if m.h == 1 {
		lines = lines[:1]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, m.w, "…")
	}
	return strings.Join(lines, "\n")
}

// header: name, size, progress bar, rates, tracker; shown in every view.
// A short terminal drops its lines from the bottom up (the tracker has its
// view), so the body keeps room.
func (m *model) header() []string {
	lines := m.fullHeader()
	switch {
	case m.h < 8:
		return lines[:2]
	case m.h < 12:
		return lines[:3]
	case m.h < 16:
		return lines[:4]
	}
	return lines
}

func (m *model) fullHeader() []string {
	u, info := m.u, m.info
	pct := 100.0
	if n := wantedPieces(info); n > 0 { // Missing counts the chosen files only
		pct = 100 * float64(n-u.Missing) / float64(n)
	}
	state := ""
	switch {
	case info.NumPieces == 0 && u.Status != "" && !u.CheckingDone:
		state = u.Status // a magnet link's metadata phase: "fetching metadata: 1/2 pieces ..."
		pct = 0
	case !u.CheckingDone:
		state = fmt.Sprintf("checking %d/%d", u.Checking, info.NumPieces)
		pct = 100 * float64(u.Checking) / float64(max(info.NumPieces, 1))
	case u.Status != "": // what stops the download says more than an ETA
		state = warnStyle.Render(u.Status)
	case u.Complete:
		state = doneStyle.Render("complete · seeding")
	case u.Lazy != nil: // missing pieces wait for readers, not for an ETA
		state = "lazy: " + human(u.Lazy.Fetched) + " fetched for reads"
	case u.DownRate > 0:
		state = "ETA " + eta(int64(u.Missing)*info.PieceLength, u.DownRate)
	default:
		state = "ETA -"
	}
	name := titleStyle.Render(info.Name)
	size := fmt.Sprintf("%s · %d pieces", human(info.TotalLength), info.NumPieces)
	if lipgloss.Width(info.Name)+lipgloss.Width(size)+3 > m.w {
		size = human(info.TotalLength)
	}
	barW := m.w - 11 - lipgloss.Width(state)
	if barW < 8 { // a narrow terminal keeps the bar and the percentage
		state, barW = "", max(1, m.w-10)
	}
	lines := []string{
		spread(m.w, " "+name, size+" "),
		fmt.Sprintf(" %s %5.1f%%  %s", bar(barW, pct/100), pct, state),
	}
	ratio := ""
	if u.Downloaded > 0 || u.Complete {
		ratio = fmt.Sprintf("  ratio %.2f", float64(u.Uploaded)/float64(max(u.Downloaded, info.TotalLength-int64(u.Missing)*info.PieceLength, 1)))
	}
	if m.w < 64 { // no room for sparklines: the numbers matter more
		lines = append(lines, fmt.Sprintf(" ↓ %s/s  ↑ %s/s  peers %d/%d%s", human(u.DownRate), human(u.UpRate), len(u.Peers), u.KnownPeers, ratio))
	} else {
		spark := max(6, min(30, (m.w-64)/2))
		lines = append(lines, fmt.Sprintf(" ↓ %9s/s %s  ↑ %9s/s %s  peers %d/%d%s",
			human(u.DownRate), sparkline(m.downHist.last(spark), spark), human(u.UpRate), sparkline(m.upHist.last(spark), spark), len(u.Peers), u.KnownPeers, ratio))
	}
	lines = append(lines, " "+m.trackerLine())
	return append(lines, "")
}

func (m *model) trackerLine() string {
	t := m.u.Tracker
	picker := "picker " + m.u.Picker
	if info := m.info; info.Mountpoint != "" {
		picker += " · mounted at " + info.Mountpoint
	}
	if t == nil {
		return dimStyle.Render("no tracker · " + picker)
	}
	var tail string
	if t.LastError != "" {
		tail += " · " + errStyle.Render(t.LastError)
	} else if !t.LastAnnounce.IsZero() {
		tail += fmt.Sprintf(" · %d peers", t.Peers)
	}
	if !t.NextAnnounce.IsZero() {
		tail += " · next " + dur(t.NextAnnounce.Sub(m.now()))
	}
	// A long URL is cut, not the reason after it: that is what the line
	// is for when a tracker fails.
	urlW := max(20, m.w-2-len("tracker ")-lipgloss.Width(tail)) // 2: the indent, and the "…" where the picker is cut
	return "tracker " + ansi.Truncate(t.URL, urlW, "…") + tail + " · " + picker
}

func (m *model) mainView() []string {
	info, u := m.info, m.u
	avail := m.h - len(m.header()) - 1 // the footer takes the last line
	files := info.Files
	fileRows := min(len(files), max(1, avail/2-1))
	mapRows := max(1, avail-fileRows-2)
	lines := []string{titleStyle.Render(fmt.Sprintf(" Files (%d)", len(files)))}
	start := min(m.scroll[viewMain], max(0, len(files)-fileRows))
	for _, f := range files[start:min(len(files), start+fileRows)] {
		done := fileDone(f.Offset, f.Length, info.PieceLength, u)
		p := fmt.Sprintf(" %6.1f%% %10s  %s", done*100, human(f.Length), f.Path)
		if done == 1 {
			p = doneStyle.Render(p)
		}
		lines = append(lines, p)
	}
	lines = append(lines, titleStyle.Render(" Pieces")+dimStyle.Render("  █ have  ▓ downloading  ▒ some  · missing"))
	return append(lines, pieceMap(m.w-2, mapRows, info.NumPieces, u)...)
}

// fileDone is the fraction of a file's pieces verified.
// wantedPieces is how many pieces hold bytes of the files chosen: every
// piece unless some file is skipped.
func wantedPieces(info *sdk.TorrentInfo) int {
	var wanted map[int]bool
	for _, f := range info.Files {
		if f.Skipped && wanted == nil {
			wanted = map[int]bool{}
		}
	}
	if wanted == nil {
		return info.NumPieces
	}
	for _, f := range info.Files {
		if !f.Skipped && f.Length > 0 {
			for i := f.Offset / info.PieceLength; i <= (f.Offset+f.Length-1)/info.PieceLength; i++ {
				wanted[int(i)] = true
			}
		}
	}
	return len(wanted)
}

func fileDone(off, length, pieceLen int64, u sdk.Update) float64 {
	if length == 0 {
		return 1
	}
	first, last := int(off/pieceLen), int((off+length-1)/pieceLen)
	have := 0
	for i := first; i <= last; i++ {
		if u.Have.Has(i) {
			have++
		}
	}
	return float64(have) / float64(last-first+1)
}

// pieceMap draws the pieces in w×rows cells, each covering an equal share.
func pieceMap(w, rows, n int, u sdk.Update) []string {
	if n == 0 || w <= 0 {
		return nil
	}
	down := map[int]bool{}
	for _, d := range u.Downloading {
		down[d] = true
	}
	cells := min(w*rows, n)
	rows = (cells + w - 1) / w
	var lines []string
	var b strings.Builder
	for c := range cells {
		lo, hi := c*n/cells, (c+1)*n/cells
		have, busy := 0, false
		for i := lo; i < hi; i++ {
			if u.Have.Has(i) {
				have++
			}
			busy = busy || down[i]
		}
		switch {
		case have == hi-lo:
			b.WriteString("█")
		case busy:
			b.WriteString("▓")
		case have > 0:
			b.WriteString("▒")
		default:
			b.WriteString("·")
		}
		if (c+1)%w == 0 || c == cells-1 {
			lines = append(lines, " "+b.String())
			b.Reset()
		}
	}
	return lines
}

func (m *model) logView() []string {
	n := max(1, m.h-len(m.header())-2)
	lines := []string{titleStyle.Render(" Log") + dimStyle.Render("  (ctrl-z: back)")}
	end := max(0, len(m.logs)-m.scroll[viewLog])
	for _, l := range m.logs[max(0, end-n):end] {
		text := " " + l.Text
		switch l.Level {
		case "WARN":
			text = warnStyle.Render(text)
		case "ERROR":
			text = errStyle.Render(text)
		}
		lines = append(lines, text)
	}
	return lines
}

// helpView lists every key, one a line; where that does not fit, the same
// keys in short, wrapped to the width.
func (m *model) helpView() []string {
	if long := m.longHelp(); len(long) <= m.h-1 {
		return long
	}
	short := "1-6 or p f t r l: main peers files trackers rates log · tab S-tab: next, previous · ctrl-z: log and back · " +
		"esc: main · s: sort peers · files: space fetch/skip, + - priority · ↑↓ k j PgUp PgDn g G, wheel: scroll · ?: help · q ctrl-c: quit"
	return append([]string{titleStyle.Render(" Keys")}, indent(strings.Split(ansi.Wordwrap(short, max(1, m.w-2), " "), "\n"))...)
}

func indent(ls []string) []string {
	for i, l := range ls {
		ls[i] = " " + l
	}
	return ls
}

func (m *model) longHelp() []string {
	return []string{
		titleStyle.Render(" Keys"),
		"  1 2 3 4 5 6   main, peers, files, trackers, rates, log view",
		"  p f t r l     peers, files, trackers, rates, log view; again: main",
		"  tab S-tab     next, previous view",
		"  ctrl-z        log view and back",
		"  esc           main view",
		"  s             peers view: sort by the next column",
		"  space         files view: fetch or skip the file at the cursor (>)",
		"  + -           files view: raise, lower its priority (low normal high)",
		"  ↑ ↓ k j       scroll, files view: move the cursor (the wheel too)",
		"  PgUp PgDn     scroll a page",
		"  g G           top, bottom",
		"  ?             this help (any key closes it)",
		"  q ctrl-c      quit the client (the tracker is told, state saved)",
	}
}

// footer: the views by number, the current one highlighted, then help and
// quit; narrow terminals get the current view's name and the two keys.
func (m *model) footer() string {
	var left string
	if m.w >= 76 {
		var tabs []string
		for i, n := range viewNames {
			t := fmt.Sprintf(" %d %s ", i+1, n)
			if i == m.view {
				t = keyStyle.Render(t)
			}
			tabs = append(tabs, t)
		}
		left = strings.Join(tabs, "") + " " + keyStyle.Render(" ? keys ") + " " + keyStyle.Render(" q quit ")
	} else {
		left = " " + keyStyle.Render(" "+viewNames[m.view]+" ") + " " + keyStyle.Render(" ? keys ") + " " + keyStyle.Render(" q quit ")
	}
	if m.gone {
		left += errStyle.Render("  the client has stopped")
	}
	return left
}

// spread puts a left and a right part on one line of width w.
func spread(w int, left, right string) string {
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	return left + strings.Repeat(" ", max(1, gap)) + right
}

func bar(w int, frac float64) string {
	full := int(frac * float64(w))
	full = max(0, min(full, w))
	return doneStyle.Render(strings.Repeat("█", full)) + dimStyle.Render(strings.Repeat("░", w-full))
}

const sparks = "▁▂▃▄▅▆▇█"

func sparkline(h []int64, w int) string {
	if len(h) > w {
		h = h[len(h)-w:]
	}
	var top int64 = 1
	for _, v := range h {
		top = max(top, v)
	}
	r := []rune(sparks)
	var b strings.Builder
	for i := len(h); i < w; i++ {
		b.WriteRune(' ')
	}
	for _, v := range h {
		b.WriteRune(r[int(v*int64(len(r)-1)/top)])
	}
	return b.String()
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func eta(left, rate int64) string { return dur(time.Duration(left/max(rate, 1)) * time.Second) }

func dur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}
