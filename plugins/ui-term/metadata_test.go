package main

import (
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/sdk"
)

// A magnet link's metadata phase: the torrent has no pieces yet, the
// header shows the host's status line and every view draws; once the
// metadata arrives, the torrent is sent again and the usual header
// follows.
func TestMagnetMetadataPhase(t *testing.T) {
	t.Parallel()
	phase := sdk.Update{Torrent: &sdk.TorrentInfo{Name: "ubuntu (dn)", InfoHash: "aa", Dir: "/data"}, KnownPeers: 3,
		Status: "fetching metadata: 1/2 pieces, 2 peers (3 known)"}
	m := play(80, 24, []sdk.Update{phase})
	if v := m.View(); !strings.Contains(v, "ubuntu (dn)") || !strings.Contains(v, "fetching metadata: 1/2 pieces, 2 peers") {
		t.Fatalf("the metadata phase is not shown:\n%s", v)
	}
	for _, k := range []string{"p", "f", "t", "r", "l", "?"} {
		m.Update(key(k))
		_ = m.View()
	}
	us := stream(3)
	m = play(80, 24, append([]sdk.Update{phase}, us...))
	if v := m.View(); strings.Contains(v, "fetching metadata") || !strings.Contains(v, "ubuntu-26.04-desktop-amd64") {
		t.Fatalf("after the metadata the view still shows the phase:\n%s", v)
	}
}
