package swarm

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/torrent-dev/torrent/host/webseed"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Web seeds (BEP 19) join the downloader as peers that have every piece
// and never choke: the picker ranks pieces for them, the downloader's
// pipelines, timeouts and endgame work for them as for any peer. Their
// requests go to a queue instead of a socket; fetchers turn runs of
// adjacent blocks into ranged GETs and hand the data back to the run loop,
// which files the blocks as if a peer had sent them.
//
// An error of a seed (HTTP, short body, redirect loop, timeout) or a piece
// it sent that fails its hash check backs that seed off: its requests go
// back to the others, and it is "choked" until the backoff ends. A seed is
// never banned: a server may be down for a while and come back.

// webFetchers is how many GETs each seed has under way at once: one in
// flight while the next is being set up.
const webFetchers = 2

// maxWebRun bounds one GET; a run is adjacent blocks, usually a piece.
const maxWebRun = 4 << 20

// webSeed is one web seed as the run loop sees it.
type webSeed struct {
	seed      *webseed.Seed
	dl        *dlPeer
	q         *webQueue
	backoff   webseed.Backoff
	rates     peerRates
	errors    int // fetches that failed
	badPieces int // pieces with its data that failed their hash check
	lastErr   string
}

// webSeedIP is web seed n's stand-in address for the blocks it sends
// (pieceState.from, ban.go): 100::n, in the discard-only prefix of RFC
// 6666, so it is never a real peer's.
func webSeedIP(n int) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0x01, 0x00
	binary.BigEndian.PutUint32(a[12:], uint32(n))
	return netip.AddrFrom16(a)
}

// webReq is one block requested of a seed.
type webReq struct{ index, begin, length uint32 }

// webQueue holds a seed's requests until a fetcher takes them. It is the
// seed's sender: the downloader's requests and cancels arrive encoded, as
// they would go to a peer's socket.
type webQueue struct {
	mu   sync.Mutex
	reqs []webReq
	wake chan struct{} // a request is waiting
}

var _ sender = (*webQueue)(nil)

func newWebQueue() *webQueue { return &webQueue{wake: make(chan struct{}, 1)} }

// send takes a batch of encoded messages; only requests and cancels
// matter to a web seed.
func (q *webQueue) send(b []byte) {
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b))
		if n == 0 || len(b) < 4+n {
			return
		}
		body := b[4 : 4+n]
		b = b[4+n:]
		if n != 13 {
			continue
		}
		r := webReq{binary.BigEndian.Uint32(body[1:]), binary.BigEndian.Uint32(body[5:]), binary.BigEndian.Uint32(body[9:])}
		switch wire.MessageID(body[0]) {
		case wire.IDRequest:
			q.add(r)
		case wire.IDCancel:
			q.cancel(r)
		}
	}
}

func (q *webQueue) sendMsg(m wire.Message) {
	switch m := m.(type) {
	case wire.Request:
		q.add(webReq{m.Index, m.Begin, m.Length})
	case wire.Cancel:
		q.cancel(webReq{m.Index, m.Begin, m.Length})
	}
}

func (q *webQueue) add(r webReq) {
	q.mu.Lock()
	q.reqs = append(q.reqs, r)
	q.mu.Unlock()
	q.signal()
}

func (q *webQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *webQueue) cancel(r webReq) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i := slices.Index(q.reqs, r); i >= 0 {
		q.reqs = slices.Delete(q.reqs, i, i+1)
	}
}

func (q *webQueue) clear() {
	q.mu.Lock()
	q.reqs = nil
	q.mu.Unlock()
}

// take removes the first request and the requests that continue it in the
// torrent's data, up to maxWebRun bytes.
func (q *webQueue) take(g geometry) []webReq {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.reqs) == 0 {
		return nil
	}
	run := []webReq{q.reqs[0]}
	q.reqs = q.reqs[1:]
	size := int64(run[0].length)
	for size < maxWebRun {
		last := run[len(run)-1]
		end := g.offset(int(last.index)) + int64(last.begin) + int64(last.length)
		i := slices.IndexFunc(q.reqs, func(r webReq) bool { return g.offset(int(r.index))+int64(r.begin) == end })
		if i < 0 || size+int64(q.reqs[i].length) > maxWebRun {
			break
		}
		run = append(run, q.reqs[i])
		size += int64(q.reqs[i].length)
		q.reqs = slices.Delete(q.reqs, i, i+1)
	}
	if len(q.reqs) > 0 {
		q.signal() // for another fetcher
	}
	return run
}

// webResult is a run fetched from a seed, or the error that ended it.
type webResult struct {
	ws   *webSeed
	run  []webReq
	data []byte
	err  error
}

// startWebSeeds joins the configured web seeds to the downloader and
// starts their fetchers. It runs before the run loop, on its goroutine.
func (s *Swarm) startWebSeeds(ctx context.Context) {
	now := time.Now()
	for n, seed := range s.cfg.WebSeeds {
		ws := &webSeed{seed: seed, q: newWebQueue()}
		ws.dl = newDLPeer(sdk.PeerID(s.nextID.Add(1)), webSeedIP(n+1), false, ws.q, s.cfg.NumPieces, now)
		ws.dl.choked = false
		s.web = append(s.web, ws)
		s.dl.addPeer(ws.dl)
		all := bitfield.New(s.cfg.NumPieces)
		all.SetAll()
		if err := s.dl.setHas(ws.dl, all); err != nil {
			// Complete already (errBothComplete): it stays, for pieces
			// later found bad on disk.
			ws.dl.has = all
			s.picker.post(sdk.PeerJoined{Peer: ws.dl.id, Have: all.Clone()})
		}
		for range webFetchers {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.fetchWeb(ctx, ws) }()
		}
		s.log.Info("web seed", "url", seed.URL())
	}
}

// fetchWeb is one fetcher of ws: it turns queued requests into GETs until
// ctx ends. After an error it drops what is queued: the run loop backs the
// seed off and gives its requests to others.
func (s *Swarm) fetchWeb(ctx context.Context, ws *webSeed) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ws.q.wake:
		}
		for run := ws.q.take(s.geo); len(run) > 0; run = ws.q.take(s.geo) {
			var n int64
			for _, r := range run {
				n += int64(r.length)
			}
			// -down-rate counts web seeds as it counts peers.
			if s.dnLim.Wait(ctx, int(n)) != nil {
				return
			}
			data := make([]byte, n)
			err := ws.seed.Fetch(ctx, s.geo.offset(int(run[0].index))+int64(run[0].begin), data)
			if err != nil {
				ws.q.clear()
			}
			select {
			case s.webIn <- webResult{ws: ws, run: run, data: data, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				break
			}
		}
	}
}

// webResult files the blocks of a fetched run, or backs the seed off.
func (s *Swarm) webResult(r webResult) {
	ws := r.ws
	if r.err != nil {
		// While backed off, an error is the same episode's.
		if !ws.dl.choked {
			s.webFailed(ws, r.err)
		}
		return
	}
	now := time.Now()
	off := 0
	for _, q := range r.run {
		block := r.data[off : off+int(q.length)]
		off += int(q.length)
		if err := s.dl.gotBlock(ws.dl, q.index, q.begin, block, now); err != nil && !ws.dl.choked {
			s.webFailed(ws, err)
			return
		}
	}
}

// webFailed backs ws off: its requests go to the other peers and seeds.
func (s *Swarm) webFailed(ws *webSeed, err error) {
	ws.errors++
	ws.lastErr = err.Error()
	d := ws.backoff.Fail(time.Now())
	ws.q.clear()
	s.dl.gotChoke(ws.dl)
	s.dl.refill()
	s.log.Warn("web seed failed; backing off", "url", ws.seed.URL(), "error", err, "retry_in", d)
}

// webBlamed takes a verdict (ban.go) against a web seed's stand-in
// address: the seed is backed off, never banned. It reports whether v was
// a web seed's.
func (s *Swarm) webBlamed(v verdict) bool {
	for _, ws := range s.web {
		if ws.dl.ip == v.ip {
			ws.badPieces++
			s.webFailed(ws, errors.New(v.why))
			return true
		}
	}
	return false
}

// webPieceGood clears the backoff of the seeds that sent part of a piece
// that verified: they serve good data again.
func (s *Swarm) webPieceGood(ps *pieceState) {
	for _, ws := range s.web {
		if slices.Contains(ps.from, ws.dl.ip) {
			ws.backoff.OK()
		}
	}
}

// tickWeb is the run loop's second for web seeds: rates, timeouts, the
// end of backoffs, pipelines.
func (s *Swarm) tickWeb(now time.Time) {
	for _, ws := range s.web {
		ws.rates.tick(ws.dl.downloaded, 0)
		if ws.dl.choked {
			if ws.backoff.Ready(now) {
				s.log.Debug("web seed: trying again", "url", ws.seed.URL())
				s.dl.gotUnchoke(ws.dl)
			}
			continue
		}
		if err := s.dl.checkTimeouts(ws.dl, now); err != nil {
			s.webFailed(ws, err)
			continue
		}
		ws.dl.adjustDepth(ws.rates.down)
		s.dl.fill(ws.dl)
	}
}

// WebSeedStats describes one web seed.
type WebSeedStats struct {
	URL        string
	DownRate   int64
	Downloaded int64 // bytes of blocks it sent
	Errors     int   // fetches that failed
	BadPieces  int   // pieces with its data that failed their hash check
	LastError  string
	BackingOff bool
}

// webStats adds the web seeds to a stats snapshot: in WebSeeds, and in
// Peers (client "web seed", choked while backed off) for the peer lists.
func (s *Swarm) webStats(st *Stats) {
	for _, ws := range s.web {
		st.WebSeeds = append(st.WebSeeds, WebSeedStats{URL: ws.seed.URL(), DownRate: ws.rates.down,
			Downloaded: ws.dl.downloaded, Errors: ws.errors, BadPieces: ws.badPieces, LastError: ws.lastErr,
			BackingOff: ws.dl.choked})
		st.Peers = append(st.Peers, PeerStats{Addr: ws.seed.URL(), Client: "web seed", Source: addrbook.WebSeed, DownRate: ws.rates.down,
			Pieces: s.cfg.NumPieces, Choked: ws.dl.choked, Inflight: len(ws.dl.inflight)})
	}
}
