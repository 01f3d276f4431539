package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
)

// seedTo starts the client seeding a fresh 8 MiB torrent with args and
// returns the torrent, its data directory and the client's port.
func seedTo(t *testing.T, args ...string) (torrent, src string, port int) {
	t.Helper()
	src = t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "tree/data.bin", Size: 8 << 20})
	torrent = realpeers.MakeTorrent(t, src, "", 18)
	port = realpeers.FreePort(t)
	c := startClient(t, append(args, "-port", strconv.Itoa(port), "-dir", src, torrent)...)
	c.waitFor(regexp.MustCompile(`checked data on disk`), 30*time.Second)
	return torrent, src, port
}

// The upload cap holds against a real leecher, at the default (24 kB/s)
// and at another rate. Only the upper bound is asserted, from the
// leecher's own counts and clock, so a slow machine cannot fail it: in
// every window the leecher may have received at most the cap times the
// window, plus the limiter's burst, the blocks already in flight, what a
// busy receiver reads from its socket in one go, and one second of
// counting granularity.
func TestUploadCapHolds(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args []string
		rate int64 // bytes/s
	}{
		"default": {nil, 24_000},
		"200KB":   {[]string{"-up-rate", "200KB"}, 200_000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			torrent, _, port := seedTo(t, tc.args...)
			leecher := realpeers.StartLibtorrentLeecher(t, torrent, t.TempDir(), realpeers.LTOptions{ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
			samples := waitSamples(t, leecher, 10)
			burst := max(tc.rate/4, 64<<10) // host/ratelimit's bucket
			// libtorrent moves its status counters once a second, so a
			// second's worth can show up at once.
			slack := burst + 2*16<<10 + 64<<10 + tc.rate
			for i, a := range samples {
				for _, b := range samples[i+1:] {
					limit := float64(tc.rate)*(b.T-a.T) + float64(slack)
					if got := float64(b.Down - a.Down); got > limit {
						t.Fatalf("%d bytes in %.1f s (from %.1f s): over the cap of %d B/s plus %d B", b.Down-a.Down, b.T-a.T, a.T-samples[0].T, tc.rate, slack)
					}
				}
			}
			last := samples[len(samples)-1]
			t.Logf("%d bytes in %.1f s, %.0f B/s on average", last.Down-samples[0].Down, last.T-samples[0].T, float64(last.Down-samples[0].Down)/(last.T-samples[0].T))
			if last.Down-samples[0].Down == 0 {
				t.Fatal("the leecher received nothing: the cap was never exercised")
			}
		})
	}
}

// waitSamples waits until a leecher's samples span secs seconds from its
// first received byte, and returns those.
func waitSamples(t *testing.T, p *realpeers.Peer, secs float64) []realpeers.Sample {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		s := p.Samples()
		first := 0
		for first < len(s) && s[first].Down == 0 {
			first++
		}
		if first > 0 {
			first-- // the last sample before any data: the window starts there
		}
		if first < len(s) && s[len(s)-1].T-s[first].T >= secs && s[len(s)-1].Down > 0 {
			return s[first:]
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the leecher did not receive data for %.0f s within 2 minutes", secs)
	return nil
}

// The client never chokes: several leechers at once, all interested, are
// all served to the end. Each knows only our address, so every byte it
// has came from us.
func TestNeverChokes(t *testing.T) {
	t.Parallel()
	torrent, src, port := seedTo(t, "-up-rate", "0")
	const n = 4
	var leechers []*realpeers.Peer
	var dirs []string
	for range n {
		dst := t.TempDir()
		dirs = append(dirs, dst)
		leechers = append(leechers, realpeers.StartLibtorrentLeecher(t, torrent, dst, realpeers.LTOptions{ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", port)}}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i, l := range leechers {
		if err := l.WaitDone(ctx); err != nil {
			t.Fatalf("leecher %d of %d: %v (progress %.2f)", i+1, n, err, l.Progress())
		}
		realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dirs[i], "tree"))
	}
}
