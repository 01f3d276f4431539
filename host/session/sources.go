package session

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/tracker"
)

// AddFunc takes addresses a peer source found. Every source (a tracker,
// a magnet link's x.pe, -peer, later the DHT) feeds one, so the same
// sources serve the metadata phase of a magnet link and then the swarm.
type AddFunc func(src addrbook.Source, addrs []netip.AddrPort)

// maxRemembered bounds the addresses kept during the metadata phase for
// the swarm that follows it.
const maxRemembered = 2000

// peerFeed passes addresses on to whoever takes them now: the metadata
// fetcher, then the swarm. What arrives before the swarm is remembered
// and handed to it when it attaches, so no source needs to know which
// phase the session is in.
type peerFeed struct {
	mu   sync.Mutex
	to   AddFunc
	sw   bool // to is the swarm's: nothing more to remember
	seen map[netip.AddrPort]addrbook.Source
}

// add is the AddFunc every source calls; safe from any goroutine.
func (f *peerFeed) add(src addrbook.Source, addrs []netip.AddrPort) {
	f.mu.Lock()
	to := f.to
	if !f.sw {
		if f.seen == nil {
			f.seen = map[netip.AddrPort]addrbook.Source{}
		}
		for _, a := range addrs {
			if _, ok := f.seen[a]; ok || len(f.seen) < maxRemembered {
				f.seen[a] |= src
			}
		}
	}
	f.mu.Unlock()
	if to != nil && len(addrs) > 0 {
		to(src, addrs)
	}
}

// setTarget sends later addresses to to (the metadata fetcher).
func (f *peerFeed) setTarget(to AddFunc) {
	f.mu.Lock()
	f.to = to
	f.mu.Unlock()
}

// attach hands the swarm everything seen so far, one batch per source,
// and every later address.
func (f *peerFeed) attach(to AddFunc) {
	f.mu.Lock()
	bySrc := map[addrbook.Source][]netip.AddrPort{}
	for a, src := range f.seen {
		bySrc[src] = append(bySrc[src], a)
	}
	f.to, f.sw, f.seen = to, true, nil
	f.mu.Unlock()
	for src, addrs := range bySrc {
		to(src, addrs)
	}
}

// sources are the session's peer sources that run for its whole life,
// across the metadata phase and the swarm: the tracker announcer and the
// DHT.
type sources struct {
	startOnce, stopOnce, completeOnce sync.Once
	cancel                            context.CancelFunc
	done                              chan struct{} // closed once every source has ended
	stopDHT                           func()        // ends the DHT lookups, once; nil without them
	completed                         chan struct{} // closed when this session completes the download
}

// start runs the sources once; later calls do nothing. They feed s.feed.
func (src *sources) start(ctx context.Context, s *Session) {
	src.startOnce.Do(func() {
		src.completed = make(chan struct{})
		// The announcer ends on stop, not on ctx: it sends "stopped" then.
		actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		src.cancel = cancel
		src.done = make(chan struct{})
		var wg sync.WaitGroup
		if a := s.newAnnouncer(src.completed); a != nil {
			s.ann.Store(a)
			wg.Add(1)
			go func() { defer wg.Done(); a.Run(actx) }()
		}
		if stopDHT := s.startDHT(actx, s.feed.add); stopDHT != nil {
			src.stopDHT = sync.OnceFunc(stopDHT)
			wg.Add(1)
			go func() { defer wg.Done(); <-actx.Done(); src.stopDHT() }()
		}
		go func() { wg.Wait(); close(src.done) }()
	})
}

// private ends the DHT lookups a magnet link started before its metadata
// said the torrent is private (BEP 27: its peers come from its trackers
// only). It returns once they have ended.
func (src *sources) private() {
	if src.stopDHT != nil {
		src.stopDHT()
	}
}

// watch says the download completed when done closes; only for a
// download that was not whole at start (BEP 3's "completed").
func (src *sources) watch(done <-chan struct{}) {
	go func() {
		select {
		case <-done:
			src.complete()
		case <-src.done:
		}
	}()
}

func (src *sources) complete() {
	if src.completed != nil {
		src.completeOnce.Do(func() { close(src.completed) })
	}
}

// stop ends the sources and waits for them (the tracker's "stopped").
func (src *sources) stop() {
	src.stopOnce.Do(func() {
		if src.cancel != nil {
			src.cancel()
			<-src.done
		}
	})
}

// unknownLeft is the "left" announced before the metadata is known: not
// 0, which would say we are a seed.
const unknownLeft = 16 << 10

// newAnnouncer makes the tracker announcer, nil when there is no tracker.
// Its peers go to the feed.
func (s *Session) newAnnouncer(completed <-chan struct{}) *tracker.Announcer {
	tiers := s.TrackerTiers()
	if len(tiers) == 0 {
		return nil
	}
	port := 0
	if s.opts.Listener != nil {
		if a, ok := s.opts.Listener.Addr().(*net.TCPAddr); ok {
			port = a.Port
		}
	}
	return tracker.NewAnnouncer(tracker.Config{
		Tiers: tiers, InfoHash: s.infoHash, PeerID: s.peerID, Port: port,
		Logger: s.log.Named("tracker"), WantRate: s.opts.WantRate, MinGap: s.announceGap,
		OnPeers:   func(a []netip.AddrPort) { s.feed.add(addrbook.Tracker, a) },
		Completed: completed,
		Stats:     s.trackerStats,
	})
}

func (s *Session) trackerStats() tracker.Stats {
	sw, m := s.swarm.Load(), s.Meta()
	if sw == nil || m == nil {
		return tracker.Stats{Left: unknownLeft}
	}
	st := sw.Stats()
	left := min(int64(st.Missing)*m.Info.PieceLength, m.Info.Length)
	return tracker.Stats{Uploaded: st.Uploaded, Downloaded: st.Downloaded, Left: left, DownRate: st.DownRate}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
