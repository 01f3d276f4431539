package hostapi

import (
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/tracker"
)

// Every tracker is listed in tier order without its passkey, and the
// announcer's status lands on the tracker it names, only there.
func TestTrackerList(t *testing.T) {
	tiers := [][]string{{"http://a/announce?passkey=s3cret", "udp://b:1/announce"}, {"http://c/announce"}}
	cur := tracker.Status{URL: "udp://b:1/announce", LastError: "connection refused", NextAnnounce: time.Unix(1e9, 0)}
	got := trackerList(tiers, cur)
	if len(got) != 3 {
		t.Fatalf("%d trackers, want 3", len(got))
	}
	for i, want := range []struct {
		url     string
		tier    uint32
		current bool
	}{{"http://a/announce?…", 0, false}, {"udp://b:1/announce", 0, true}, {"http://c/announce", 1, false}} {
		g := got[i]
		if g.Url != want.url || g.Tier != want.tier || g.Current != want.current {
			t.Fatalf("tracker %d = %q tier %d current %v, want %+v", i, g.Url, g.Tier, g.Current, want)
		}
		if hasStatus := g.LastError != "" || g.NextAnnounceUnix != 0; hasStatus != want.current {
			t.Fatalf("tracker %d (%s): status %q next %d on the wrong tracker", i, g.Url, g.LastError, g.NextAnnounceUnix)
		}
	}
	if none := trackerList(tiers, tracker.Status{}); none[0].Current || none[1].Current || none[2].Current {
		t.Fatal("a tracker is current before any announce")
	}
}
