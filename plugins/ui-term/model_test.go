package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

var update = flag.Bool("update", false, "rewrite the golden screens")

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii) // golden screens hold text, not colour codes
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// stream is a scripted download: 200 pieces, three peers, a tracker, log
// lines, progress in steps, then completion.
func stream(steps int) []sdk.Update {
	info := &sdk.TorrentInfo{Name: "ubuntu-26.04-desktop-amd64", InfoHash: "aa", TotalLength: 200 << 20, PieceLength: 1 << 20, NumPieces: 200,
		Files: []sdk.FileInfo{
			{Path: "ubuntu/casper/filesystem.squashfs", Length: 150 << 20},
			{Path: "ubuntu/README", Length: 1234, Offset: 150 << 20},
			{Path: "ubuntu/empty", Offset: 150<<20 + 1234},
			{Path: "ubuntu/pool/main/l/linux.deb", Length: 50<<20 - 1234, Offset: 150<<20 + 1234},
		}, Dir: "/data"}
	var out []sdk.Update
	have := bitfield.New(200)
	for s := 0; s <= steps; s++ {
		for i := 0; i < 200*s/steps; i++ {
			if i%3 == s%3 || s == steps {
				have.Set(i)
			}
		}
		u := sdk.Update{
			Have: have.Clone(), Missing: 200 - have.Count(), Downloaded: int64(have.Count()) << 20, Uploaded: int64(s) << 19,
			DownRate: int64(3+s) << 20, UpRate: int64(s) << 16, KnownPeers: 5, Picker: "random", CheckingDone: true,
			Downloading: []int{199 - s, 150 - s},
			Peers: []sdk.PeerInfo{
				{Addr: "127.0.0.1:6881", Client: "libtorrent 2.0.8", DownRate: 2 << 20, Pieces: 200, Requests: 12, Source: "tracker", Flags: "E"},
				{Addr: "10.0.0.2:51413", Client: "Transmission 3.0.0", DownRate: 1 << 20, UpRate: 1 << 15, Pieces: 120, Flags: "iI", Source: "incoming"},
				{Addr: "[::1]:6882", Client: "aria2 1-36-0-", DownRate: 512 << 10, UpRate: 1 << 16, Pieces: 77, Flags: "ciES", Source: "pex"},
			},
			Tracker: &sdk.TrackerInfo{URL: "http://tracker.local:6969/announce", LastAnnounce: t0, NextAnnounce: t0.Add(28 * time.Second), Peers: 5, Seeders: 2, Leechers: 3, Current: true},
			Trackers: []sdk.TrackerInfo{
				{URL: "udp://tracker.local:1337/announce", LastError: "connection refused", NextAnnounce: t0.Add(28 * time.Second)}, // tried first each round, failing
				{URL: "http://tracker.local:6969/announce", LastAnnounce: t0, NextAnnounce: t0.Add(28 * time.Second), Peers: 5, Seeders: 2, Leechers: 3, Current: true},
				{URL: "https://backup.example.org/announce?…", Tier: 1},
			},
			Log: []sdk.LogLine{{Time: t0, Level: "INFO", Text: fmt.Sprintf("12:00:%02d.000 [INFO]  torrent.swarm: step %d", s, s)}},
		}
		if s == 0 {
			u.Torrent = info
			u.Log = append(u.Log, sdk.LogLine{Time: t0, Level: "WARN", Text: "12:00:00.000 [WARN]  torrent.tracker: announce failed: url=udp://x:1 error=\"no reply\""})
		}
		if s == steps {
			u.Complete, u.DownRate = true, 0
		}
		out = append(out, u)
	}
	return out
}

// skipDeb makes the stream a download with linux.deb (pieces 151-199)
// skipped: the host counts Missing over the chosen files' pieces only.
func skipDeb(us []sdk.Update) {
	us[0].Torrent.Files[3].Skipped = true
	for k := range us {
		us[k].Missing = 0
		for i := range 151 {
			if !us[k].Have.Has(i) {
				us[k].Missing++
			}
		}
	}
}

func play(w, h int, us []sdk.Update, keys ...string) *model {
	m := newModel(nil)
	now := t0
	m.now = func() time.Time { return now }
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	for _, u := range us {
		m.Update(updateMsg(u))
		now = now.Add(time.Second)
	}
	for _, k := range keys {
		m.Update(key(k))
	}
	return m
}

func key(k string) tea.KeyMsg {
	switch k {
	case "ctrl+z":
		return tea.KeyMsg{Type: tea.KeyCtrlZ}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// The mouse wheel scrolls the view under it like the arrow keys.
func TestMouseWheel(t *testing.T) {
	t.Parallel()
	us := stream(5)[:2]
	m := play(80, 24, us, "ctrl+z")
	for range 2 {
		m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelUp})
	}
	if got := m.scroll[viewLog]; got != min(6, len(m.logs)) {
		t.Fatalf("log scrolled %d after two wheel notches up, want %d", got, min(6, len(m.logs)))
	}
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelDown})
	m.Update(tea.MouseMsg{Action: tea.MouseActionRelease, Button: tea.MouseButtonWheelDown})
	if got := m.scroll[viewLog]; got != max(0, min(6, len(m.logs))-3) {
		t.Fatalf("log scrolled %d after a notch back down", got)
	}
}

// Terminals too small for anything still draw without a panic, inside
// their size.
func TestTinyTerminals(t *testing.T) {
	t.Parallel()
	for _, sz := range [][2]int{{0, 0}, {1, 1}, {5, 2}, {20, 5}, {30, 7}, {200, 3}} {
		for _, k := range []string{"", "p", "ctrl+z", "?"} {
			m := play(sz[0], sz[1], stream(5)[:3])
			if k != "" {
				m.Update(key(k))
			}
			lines := strings.Split(m.View(), "\n")
			if len(lines) > max(1, sz[1]) {
				t.Fatalf("%dx%d view %q: %d lines", sz[0], sz[1], k, len(lines))
			}
			for _, l := range lines {
				if lipgloss.Width(l) > sz[0] {
					t.Fatalf("%dx%d view %q: line %q too wide", sz[0], sz[1], k, l)
				}
			}
		}
	}
}

func TestGolden(t *testing.T) {
	tests := map[string]struct {
		w, h   int
		steps  int
		keys   []string
		status string // the host's status in the last update
	}{
		"main-80x24":          {80, 24, 3, nil, ""},
		"main-120x40":         {120, 40, 3, nil, ""},
		"main-100x30":         {100, 30, 3, nil, ""},
		"main-60x15":          {60, 15, 3, nil, ""},
		"main-40x10":          {40, 10, 3, nil, ""},
		"peers-40x10":         {40, 10, 3, []string{"p"}, ""},
		"peers-100x30":        {100, 30, 3, []string{"p"}, ""},
		"peers-sorted-80x24":  {80, 24, 3, []string{"2", "s", "s"}, ""},
		"files-80x24":         {80, 24, 3, []string{"f"}, ""},
		"files-100x30":        {100, 30, 3, []string{"3"}, ""},
		"files-40x10":         {40, 10, 3, []string{"f"}, ""},
		"trackers-80x24":      {80, 24, 3, []string{"t"}, ""},
		"trackers-100x30":     {100, 30, 3, []string{"4"}, ""},
		"trackers-40x10":      {40, 10, 3, []string{"t"}, ""},
		"rates-80x24":         {80, 24, 5, []string{"r"}, ""},
		"rates-100x30":        {100, 30, 5, []string{"5"}, ""},
		"rates-40x10":         {40, 10, 5, []string{"r"}, ""},
		"log-80x24":           {80, 24, 3, []string{"l"}, ""},
		"log-100x30":          {100, 30, 3, []string{"6"}, ""},
		"log-40x10":           {40, 10, 3, []string{"l"}, ""},
		"help-40x10":          {40, 10, 3, []string{"?"}, ""},
		"help-100x30":         {100, 30, 3, []string{"?"}, ""},
		"complete-80x24":      {80, 24, 5, nil, ""},
		"peers-80x24":         {80, 24, 3, []string{"p"}, ""},
		"log-120x40":          {120, 40, 3, []string{"ctrl+z"}, ""},
		"help-80x24":          {80, 24, 3, []string{"?"}, ""},
		"back-80x24":          {80, 24, 3, []string{"ctrl+z", "ctrl+z"}, ""},
		"diskfull-80x24":      {80, 24, 3, nil, "disk full at /data: retrying"},
		"skipped-80x24":       {80, 24, 3, nil, ""},
		"files-skipped-80x24": {80, 24, 3, []string{"f"}, ""},
		"lazy-80x24":          {80, 24, 3, nil, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			us := stream(5)
			us = us[:tc.steps+1]
			us[tc.steps].Status = tc.status
			if strings.Contains(name, "skipped") {
				skipDeb(us)
			}
			if strings.HasPrefix(name, "lazy") { // a lazy run: no ETA, what reads fetched
				us[tc.steps].Lazy = &sdk.LazyInfo{Read: 3 << 20, Asked: 5 << 20, Fetched: 12900000}
			}
			got := play(tc.w, tc.h, us, tc.keys...).View()
			lines := strings.Split(got, "\n")
			if len(lines) != tc.h {
				t.Fatalf("%d lines, want %d", len(lines), tc.h)
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > tc.w {
					t.Fatalf("line %d is %d wide, more than %d: %q", i, w, tc.w, l)
				}
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(path, []byte(got), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Fatalf("screen differs from %s:\n%s", path, got)
			}
		})
	}
}

// Every key the model handles is in the help screen, and each view key
// goes to its view and back to main.
func TestKeysListedAndSwitch(t *testing.T) {
	t.Parallel()
	var keyCols []string // the help's key column, one field a key
	for _, l := range play(80, 24, stream(2)).longHelp()[1:] {
		keyCols = append(keyCols, strings.Fields(l[:min(len(l), 16)])...)
	}
	listed := func(k string) bool { return slices.Contains(keyCols, k) }
	for k, v := range viewKeys {
		if !listed(k) {
			t.Fatalf("help does not list %q: %q", k, keyCols)
		}
		m := play(80, 24, stream(2), k)
		if m.view != v {
			t.Fatalf("%q shows view %d, want %d", k, m.view, v)
		}
		if m.Update(key(k)); m.view != viewMain {
			t.Fatalf("%q twice shows view %d, want main", k, m.view)
		}
	}
	for _, k := range []string{"tab", "s", "esc", "ctrl-z", "PgUp", "PgDn", "g", "G", "?", "q", "ctrl-c"} {
		if !listed(k) {
			t.Fatalf("help does not list %q: %q", k, keyCols)
		}
	}
	for i := range numViews {
		if !listed(fmt.Sprint(i + 1)) {
			t.Fatalf("help does not list %d", i+1)
		}
		if m := play(80, 24, stream(2), fmt.Sprint(i+1)); m.view != i {
			t.Fatalf("key %d shows view %d", i+1, m.view)
		}
	}
}

// Keys read together (typed fast, or sent at once by tmux) act one by one.
func TestKeysReadTogether(t *testing.T) {
	t.Parallel()
	m := play(80, 24, stream(2))
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("2ss")})
	if m.view != viewPeers || m.peerSort != 2 {
		t.Fatalf("after \"2ss\": view %d sort %d, want peers sorted by %s", m.view, m.peerSort, peerSorts[2].name)
	}
}
