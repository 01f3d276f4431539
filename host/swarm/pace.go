package swarm

import "time"

// Pacing while a reader is active. A rate-capped libtorrent seeder gets
// its upload quota once a tick (500 ms), about a second of its recent rate
// at a time, and spends it as soon as it has blocks to send: a pipeline
// topped up on every block drains it at once, and a seek that comes after
// waits for the seeder's next tick, up to half a second. Asked no faster
// than a share of its rate, the seeder keeps quota all the time and sends
// a seek's blocks at once (bench/ltprobe.py --pace: a 256 KiB seek in
// 1-2 ms instead of 0.66 s median; docs/performance.md). So while a reader
// is active every request but the first blocks a reader waits for
// (assignUrgent's copy window, urgentDup) goes at most at paceShare of
// the fastest rate seen from the peer; those first blocks go at once but
// count against the pace, since they take the seeder's quota all the
// same: uncounted, a stream's window on top of the paced bulk kept every
// seeder at its cap (docs/performance.md, round 7).
const (
	paceShare = 0.6
	// paceDecay: the rate seen falls by 1/paceDecay a second while the
	// peer sends less, so a paced peer keeps most of its pace for minutes.
	paceDecay = 64
)

// notePeak records p's download rate of the last second (bytes/s).
func (p *dlPeer) notePeak(rate int64) {
	p.peak = max(rate, p.peak-p.peak/paceDecay)
}

// paceGap is the time one block takes at p's pace; 0 when p's rate is not
// known yet (no pacing).
func (p *dlPeer) paceGap() time.Duration {
	if p.peak <= 0 {
		return 0
	}
	return time.Duration(float64(blockSize) / (paceShare * float64(p.peak)) * float64(time.Second))
}

// paceSlack is how many blocks p may be asked for at once: 50 ms of its
// pace, at least 4 (the run loop tops paced pipelines up every 25 ms).
func paceSlack(gap time.Duration) int {
	return max(4, int(50*time.Millisecond/gap))
}

// paceRoom is how many blocks p may be asked for now at its pace.
func (p *dlPeer) paceRoom(now time.Time) int {
	gap := p.paceGap()
	if gap == 0 {
		return maxDepth
	}
	slack := paceSlack(gap)
	return max(0, int(now.Sub(p.paceFrom(now, slack, gap))/gap))
}

// paced counts n blocks just asked of p against its pace.
func (p *dlPeer) paced(n int, now time.Time) {
	gap := p.paceGap()
	if gap == 0 || n <= 0 {
		return
	}
	p.paceNext = p.paceFrom(now, paceSlack(gap), gap).Add(time.Duration(n) * gap)
}

// paceFrom is where p's pace stands: paceNext, or as far back as its
// slack allows.
func (p *dlPeer) paceFrom(now time.Time, slack int, gap time.Duration) time.Time {
	if earliest := now.Add(-time.Duration(slack) * gap); p.paceNext.Before(earliest) {
		return earliest
	}
	return p.paceNext
}

// paceTick tops up the pipelines that their pace held back (the run loop,
// every 25 ms): their own blocks may be too few to do it; and it copies
// the blocks readers wait for that became late (lateCopies).
func (d *downloader) paceTick() {
	d.lateCopies(time.Now())
	for _, p := range d.peers {
		if p.paceHeld {
			d.fill(p)
		}
	}
}
