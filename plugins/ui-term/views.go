package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/torrent-dev/torrent/sdk"
)

// peerSorts are the peers view's orders, cycled by s; rates and progress
// sort largest first.
var peerSorts = []struct {
	name string
	less func(a, b sdk.PeerInfo) bool
}{
	{"down rate", func(a, b sdk.PeerInfo) bool { return a.DownRate > b.DownRate }},
	{"up rate", func(a, b sdk.PeerInfo) bool { return a.UpRate > b.UpRate }},
	{"progress", func(a, b sdk.PeerInfo) bool { return a.Pieces > b.Pieces }},
	{"address", func(a, b sdk.PeerInfo) bool { return a.Addr < b.Addr }},
	{"client", func(a, b sdk.PeerInfo) bool { return a.Client < b.Client }},
	{"source", func(a, b sdk.PeerInfo) bool { return a.Source < b.Source }},
}

// bodyRows is how many lines a view has under its title lines.
func (m *model) bodyRows(titles int) int { return max(1, m.h-len(m.header())-1-titles) }

// scrolled is the window [start, end) of a list of n rows shown in rows.
func (m *model) scrolled(n, rows int) (int, int) {
	start := min(m.scroll[m.view], max(0, n-rows))
	return start, min(n, start+rows)
}

func (m *model) peersView() []string {
	srt := peerSorts[m.peerSort]
	lines := []string{titleStyle.Render(fmt.Sprintf(" Peers (%d connected, %d known)", len(m.u.Peers), m.u.KnownPeers)) +
		dimStyle.Render(" · sorted by "+srt.name+" (s)")}
	// wide: where each peer came from, at the cost of a shorter client
	// and no requests column; widest: everything.
	wide, widest := m.w >= 78, m.w >= 88
	switch {
	case widest:
		lines = append(lines, dimStyle.Render(fmt.Sprintf(" %-21s %-14s %-5s %-8s %11s %11s %6s %4s", "address", "client", "flags", "from", "down", "up", "has", "reqs")))
	case wide:
		lines = append(lines, dimStyle.Render(fmt.Sprintf(" %-21s %-12s %-5s %-8s %9s %9s %6s", "address", "client", "flags", "from", "down/s", "up/s", "has")))
	default:
		lines = append(lines, dimStyle.Render(fmt.Sprintf(" %-21s %11s %11s %6s", "address", "down", "up", "has")))
	}
	peers := append([]sdk.PeerInfo(nil), m.u.Peers...)
	sort.SliceStable(peers, func(i, j int) bool {
		if srt.less(peers[i], peers[j]) != srt.less(peers[j], peers[i]) {
			return srt.less(peers[i], peers[j])
		}
		return peers[i].Addr < peers[j].Addr // a stable screen between updates
	})
	rows := m.bodyRows(3) // the titles and the legend
	start, end := m.scrolled(len(peers), rows)
	for _, p := range peers[start:end] {
		has := fmt.Sprintf("%5.1f%%", 100*float64(p.Pieces)/float64(max(1, m.info.NumPieces)))
		addr := p.Addr
		if p.Client == "web seed" { // its URL: the scheme says nothing the client column does not
			addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
		}
		addr = ansi.Truncate(addr, 21, "…")
		from := ansi.Truncate(p.Source, 8, "…")
		switch {
		case widest:
			lines = append(lines, fmt.Sprintf(" %-21s %-14s %-5s %-8s %9s/s %9s/s %6s %4d", addr, ansi.Truncate(p.Client, 14, "…"),
				p.Flags, from, human(p.DownRate), human(p.UpRate), has, p.Requests))
		case wide:
			lines = append(lines, fmt.Sprintf(" %-21s %-12s %-5s %-8s %9s %9s %6s", addr, ansi.Truncate(p.Client, 12, "…"),
				p.Flags, from, human(p.DownRate), human(p.UpRate), has))
		default:
			lines = append(lines, fmt.Sprintf(" %-21s %9s/s %9s/s %6s", addr, human(p.DownRate), human(p.UpRate), has))
		}
	}
	if len(peers) == 0 {
		lines = append(lines, dimStyle.Render(" no peers connected"))
	}
	for len(lines) < rows+2 {
		lines = append(lines, "")
	}
	return append(lines, dimStyle.Render(" flags: c choking us · i interested · E encrypted · I incoming · S snubbed"))
}

func (m *model) filesView() []string {
	info, u := m.info, m.u
	complete, skipped := 0, 0
	for _, f := range info.Files {
		switch {
		case f.Skipped:
			skipped++
		case fileDone(f.Offset, f.Length, info.PieceLength, u) == 1:
			complete++
		}
	}
	title := fmt.Sprintf(" Files (%d, %d complete)", len(info.Files), complete)
	if skipped > 0 {
		title = fmt.Sprintf(" Files (%d, %d complete, %d skipped)", len(info.Files), complete, skipped)
	}
	lines := []string{titleStyle.Render(title) + dimStyle.Render(" · space fetch/skip · + - priority")}
	if m.fileErr != "" {
		lines[0] = titleStyle.Render(title) + " " + errStyle.Render(m.fileErr)
	}
	barW := max(0, min(20, (m.w-40)/3))
	start, end := m.scrolled(len(info.Files), m.bodyRows(1))
	for k, f := range info.Files[start:end] {
		done := fileDone(f.Offset, f.Length, info.PieceLength, u)
		b := ""
		if barW > 0 {
			b = bar(barW, done) + " "
		}
		cur := " "
		if start+k == m.fileCur {
			cur = ">"
		}
		p := fmt.Sprintf("%s%6.1f%% %s%10s  ", cur, done*100, b, human(f.Length))
		path := priorityTag(f.Priority) + f.Path
		switch {
		case f.Skipped && done < 1:
			p = cur + dimStyle.Render(fmt.Sprintf("%7s %s%10s  ", "skipped", strings.Repeat(" ", lipgloss.Width(b)), human(f.Length)))
			path = dimStyle.Render(path)
		case done == 1:
			path = doneStyle.Render(path)
		}
		lines = append(lines, p+path)
	}
	return lines
}

// trackers is every tracker; a host that sends only the current one still
// gets a list of one.
func (m *model) trackers() []sdk.TrackerInfo {
	if len(m.u.Trackers) > 0 {
		return m.u.Trackers
	}
	if m.u.Tracker != nil {
		return []sdk.TrackerInfo{*m.u.Tracker}
	}
	return nil
}

// trackersView: one line a tracker. The URL comes first, as wide as the
// terminal allows next to the status columns; a narrow terminal keeps the
// status and drops the times.
func (m *model) trackersView() []string {
	trs := m.trackers()
	urlW := 12
	for _, t := range trs {
		urlW = max(urlW, lipgloss.Width(t.URL))
	}
	wide := m.w >= 78
	if wide {
		urlW = min(urlW, max(20, m.w-52))
	} else {
		urlW = min(urlW, max(12, m.w-30))
	}
	head := fmt.Sprintf(" %-4s %-*s %-20s", "tier", urlW, "url", "status")
	if wide {
		head += fmt.Sprintf(" %-9s %-6s %s", "last", "next", "peers")
	}
	lines := []string{titleStyle.Render(fmt.Sprintf(" Trackers (%d)", len(trs))), dimStyle.Render(head)}
	start, end := m.scrolled(len(trs), m.bodyRows(2))
	now := m.now()
	for _, t := range trs[start:end] {
		status, last, next, peers := dimStyle.Render(fmt.Sprintf("%-20s", "standby")), "-", "-", ""
		if t.Current || t.LastError != "" || !t.LastAnnounce.IsZero() || !t.NextAnnounce.IsZero() {
			switch {
			case t.LastError != "":
				status = errStyle.Render(fmt.Sprintf("%-20s", ansi.Truncate(t.LastError, 20, "…")))
			case t.LastAnnounce.IsZero():
				status = fmt.Sprintf("%-20s", "announcing")
			default:
				status = doneStyle.Render(fmt.Sprintf("%-20s", "ok"))
				peers = fmt.Sprintf("%d %d/%d", t.Peers, t.Seeders, t.Leechers)
			}
			if !t.LastAnnounce.IsZero() {
				last = dur(now.Sub(t.LastAnnounce)) + " ago"
			}
			if !t.NextAnnounce.IsZero() {
				next = dur(t.NextAnnounce.Sub(now))
			}
		}
		l := fmt.Sprintf(" %-4d %-*s %s", t.Tier, urlW, ansi.Truncate(t.URL, urlW, "…"), status)
		if wide {
			l += fmt.Sprintf(" %-9s %-6s %s", last, next, peers)
		}
		lines = append(lines, l)
	}
	if len(trs) == 0 {
		lines = append(lines, dimStyle.Render(" no tracker: peers come from -peer and incoming connections"))
	}
	return lines
}

// ratesView plots download and upload over the whole session, each in half
// the rows, one column per share of the session.
func (m *model) ratesView() []string {
	rows := m.bodyRows(0)
	plotH := max(1, (rows-2)/2-1)
	w := max(1, m.w-2)
	span := dur(time.Duration(m.downHist.seconds()) * time.Second)
	var lines []string
	for _, p := range []struct {
		name string
		h    *history
		now  int64
	}{{"Download", &m.downHist, m.u.DownRate}, {"Upload", &m.upHist, m.u.UpRate}} {
		s := p.h.resample(w)
		var peak, sum int64
		for _, v := range s {
			peak, sum = max(peak, v), sum+v
		}
		avg := sum / int64(max(1, len(s)))
		lines = append(lines, titleStyle.Render(" "+p.name)+dimStyle.Render(fmt.Sprintf("  now %s/s · peak %s/s · mean %s/s · over %s",
			human(p.now), human(peak), human(avg), span)))
		lines = append(lines, plot(s, w, plotH)...)
		// The time axis: where the session starts, and now.
		lines = append(lines, dimStyle.Render(spread(m.w, " └ "+span+" ago", "now ┘ ")))
	}
	return lines
}

// plot draws values as columns of eighth blocks, h rows tall, scaled to
// their peak; the newest value is the right-most column.
func plot(vals []int64, w, h int) []string {
	var top int64 = 1
	for _, v := range vals {
		top = max(top, v)
	}
	pad := max(0, w-len(vals))
	eighths := []rune(" ▁▂▃▄▅▆▇█")
	out := make([]string, h)
	for r := range h {
		var b strings.Builder
		b.WriteString(" " + strings.Repeat(" ", pad))
		floor := int64(h-1-r) * 8 // eighths below this row
		for _, v := range vals {
			e := v * int64(h*8) / top
			if v > 0 && e == 0 {
				e = 1 // a trickle still shows
			}
			b.WriteRune(eighths[min(8, max(0, e-floor))])
		}
		out[r] = doneStyle.Render(b.String())
	}
	return out
}
