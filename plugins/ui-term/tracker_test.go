package main

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/torrent-dev/torrent/sdk"
)

// The tracker line of an 80-column screen: a failing tracker shows its
// short reason and the backoff's countdown, even behind a long URL.
func TestTrackerLine(t *testing.T) {
	tests := map[string]struct {
		tr   *sdk.TrackerInfo
		want string
	}{
		"answered": {&sdk.TrackerInfo{URL: "http://tracker.local:6969/announce", LastAnnounce: t0, NextAnnounce: t0.Add(29 * time.Second), Peers: 5},
			" tracker http://tracker.local:6969/announce · 5 peers · next 28s · picker random"},
		"refused": {&sdk.TrackerInfo{URL: "udp://tracker.local:1337/announce", LastError: "connection refused", NextAnnounce: t0.Add(18 * time.Second)},
			" tracker udp://tracker.local:1337/announce · connection refused · next 17s · pi…"},
		"long URL": {&sdk.TrackerInfo{URL: "https://tracker.an-example-of-a-long-host-name.example.org:8443/a/very/long/announce?…",
			LastError: "not a bencoded reply", NextAnnounce: t0.Add(16 * time.Second)},
			" tracker https://tracker.an-example-of-a-lon… · not a bencoded reply · next 15s…"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			us := stream(1)[:1]
			us[0].Tracker = tc.tr
			m := play(80, 24, us)
			for _, l := range strings.Split(m.View(), "\n") {
				if strings.HasPrefix(l, " tracker ") {
					if l = strings.TrimRight(l, " "); l != tc.want || lipgloss.Width(l) > 80 {
						t.Fatalf("tracker line\n%q, want\n%q", l, tc.want)
					}
					return
				}
			}
			t.Fatalf("no tracker line on the screen:\n%s", m.View())
		})
	}
}
