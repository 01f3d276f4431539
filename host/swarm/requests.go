package swarm

import (
	"math"
	"slices"
	"time"

	"github.com/torrent-dev/torrent/sdk"
)

// Pipeline sizing: enough requests to cover about a second of the peer's
// rate, within the peer's advertised limit.
const (
	picksWanted  = 32 // pieces asked of the picker per peer at a time
	initialDepth = 64
	minDepth     = 16
	maxDepth     = 1024
)

// adjustDepth sizes p's pipeline for its download rate in bytes/s.
func (p *dlPeer) adjustDepth(rate int64) {
	want := int(rate / blockSize) // one second's worth
	p.depth = min(max(want, minDepth, initialDepth/2), maxDepth, max(p.reqq, minDepth))
	p.notePeak(rate)
}

// fill tops up p's request pipeline.
func (d *downloader) fill(p *dlPeer) {
	if p.choked || d.missing == 0 || d.paused {
		return // a stalled disk takes no more data
	}
	batch := d.reqs[:0]
	now := time.Now()
	depth := d.fillDepth(p, now)
	before := len(p.inflight)
	for len(p.inflight) < depth {
		ps := d.nextPiece(p)
		if ps == nil {
			break
		}
		for b := range ps.got {
			if len(p.inflight) >= depth {
				break
			}
			if ps.got[b] || ps.reqs[b] > 0 {
				continue
			}
			batch = p.request(ps, b, batch, now)
		}
	}
	if d.reading(now) {
		p.paced(len(p.inflight)-before, now)
	}
	switch {
	case len(p.inflight) >= depth:
	case !d.lazy && d.pieces.endgame(d.missing):
		// A lazy swarm is never near its end: what it lacks is what nobody
		// read, and duplicates would only cost bytes.
		batch = d.endgameRequests(p, depth, now, batch)
	case len(p.inflight) < minDepth && d.pieces.full():
		batch = d.stalledRequests(p, now, batch)
	}
	if len(batch) > 0 {
		p.out.send(batch)
	}
	d.reqs = batch[:0]
	// An answer can be lost (the picker restarts, or a newer answer
	// replaces it), so an unanswered Want is repeated after a while.
	if len(p.picks) < 4 && p.wanted > 0 && now.After(p.wantAfter) {
		p.wantAfter = now.Add(2 * time.Second)
		d.picker.wants = append(d.picker.wants, sdk.Want{Peer: p.id, N: picksWanted})
	}
}

// readerQuiet: a reader that asked for nothing this long is gone, and the
// pipelines grow back to a second of each peer's rate.
const readerQuiet = 10 * time.Second

// mountHold: a mount's first reader usually comes at once (a player
// started on it), and a libtorrent seeder sends its first second's quota
// at once as it unchokes us, then little until its rate evens out. So a
// mount's swarm (Config.Mounted) asks for no bulk for mountHold from its
// start, unless a reader came: those first bursts carry what the reader
// waits for, not bulk a Cancel cannot take back (docs/performance.md,
// round 6).
const mountHold = time.Second

// fillDepth is how many requests fill keeps p's pipeline at: p.depth,
// about a second of its rate, unless a reader is active. A seeder reads
// what it was asked for into its send buffer ahead of sending, and a
// Cancel cannot take that back (libtorrent sends it anyway), so a deep
// pipeline sits ahead of the next read's blocks; an eighth of a second of
// the peer's rate keeps it busy all the same (docs/performance.md).
// While a reader is active it is also held to p's pace (pace.go).
// assignUrgent still asks for the first blocks a reader waits for (the
// copy window, urgentDup) up to p.depth. A mount's swarm asks for no bulk
// at all until holdUntil, unless a reader came (mountHold).
func (d *downloader) fillDepth(p *dlPeer, now time.Time) int {
	p.paceHeld = false
	if !d.reading(now) {
		if now.Before(d.holdUntil) {
			p.paceHeld = true // paceTick tops it up once the hold ends
			return 0
		}
		return p.depth
	}
	short := p.shortDepth()
	if room := p.paceRoom(now); len(p.inflight)+room < short {
		p.paceHeld = true // pace.go
		return len(p.inflight) + room
	}
	return short
}

// shortDepth is p's pipeline while a reader is active: an eighth of a
// second of its rate, at least minDepth.
func (p *dlPeer) shortDepth() int { return min(p.depth, max(minDepth, p.depth/8)) }

// reading says whether a reader is active: it waits for a piece, or did
// within readerQuiet.
func (d *downloader) reading(now time.Time) bool {
	return len(d.urgent) > 0 || now.Sub(d.readAt) <= readerQuiet
}

// request asks p for block b of ps at now, appending the message to batch.
func (p *dlPeer) request(ps *pieceState, b int, batch []byte, now time.Time) []byte {
	begin := uint32(b * blockSize)
	if ps.reqs[b] == 0 {
		ps.unrequested--
		ps.askedAt[b] = now
	}
	ps.reqs[b]++
	p.asked++
	p.inflight[blockKey(uint32(ps.index), begin)] = p.asked
	return appendRequest(batch, uint32(ps.index), begin, ps.blockLen(b))
}

// nextPiece is the piece p should fetch blocks of next: urgent pieces
// first, then started pieces, then the picker's ranking, then any piece p
// has that we lack.
func (d *downloader) nextPiece(p *dlPeer) *pieceState {
	if ps := d.urgentPiece(p); ps != nil {
		return ps
	}
	for _, ps := range d.pieces.order {
		if ps.unrequested > 0 && p.has.Has(ps.index) && d.mayJoin(p, ps) {
			return ps
		}
	}
	if d.pieces.full() {
		return nil // a verified piece fills the pipelines again
	}
	if ps := d.highPiece(p); ps != nil { // choose.go
		return ps
	}
	for len(p.picks) > 0 {
		i := p.picks[0]
		p.picks = p.picks[1:]
		if d.usable(p, i) && !d.later(p, i) {
			return d.startPiece(p, i)
		}
	}
	if i := d.anyPiece(p); i >= 0 {
		return d.startPiece(p, i)
	}
	return d.lowPiece(p)
}

func (d *downloader) usable(p *dlPeer, i int) bool {
	return i >= 0 && i < d.pieces.numPieces && d.need(i) && p.has.Has(i) && d.pieces.active[i] == nil && !d.pieces.verifying[i]
}

// anyPiece keeps a peer busy while the picker's answer is on its way: a
// random missing piece the peer has.
func (d *downloader) anyPiece(p *dlPeer) int {
	n := d.pieces.numPieces
	if n == 0 {
		return -1
	}
	off := d.rng.IntN(n)
	for k := range n {
		i := (off + k) % n
		if d.usable(p, i) && !d.low.Has(i) {
			return i
		}
	}
	return -1
}

// endgame: every one of the missing pieces is in flight and fully
// requested.
func (t *pieceTable) endgame(missing int) bool {
	if len(t.active)+len(t.verifying) < missing {
		return false
	}
	for _, ps := range t.order {
		if ps.unrequested > 0 {
			return false
		}
	}
	return true
}

// endgameRequests asks p for blocks others are already fetching, at most
// two requests per block, up to depth in flight; the first copy to arrive
// cancels the rest.
func (d *downloader) endgameRequests(p *dlPeer, depth int, now time.Time, batch []byte) []byte {
	for _, ps := range d.pieces.order {
		if !p.has.Has(ps.index) || !d.mayJoin(p, ps) {
			continue
		}
		for b := range ps.got {
			if len(p.inflight) >= depth {
				return batch
			}
			key := blockKey(uint32(ps.index), uint32(b*blockSize))
			if _, mine := p.inflight[key]; ps.got[b] || mine || ps.reqs[b] >= 2 {
				continue
			}
			batch = p.request(ps, b, batch, now)
		}
	}
	return batch
}

// stallAfter: a peer that holds requests and has brought no block for
// this long is behind. A seeder sends blocks back to back, a rate-limited
// libtorrent one at least once a tick (500 ms); a pause of 1.8 s by the
// anacrolix seeder, holding every block of the piece memory, was what made
// one round of case 11 in several a second or two slower
// (docs/performance.md, "Case 11: a pause of one seeder").
const stallAfter = 750 * time.Millisecond

// behind says q holds requests and has sent nothing for stallAfter.
func (q *dlPeer) behind(now time.Time) bool {
	return len(q.inflight) > 0 && now.Sub(q.lastBlock) >= stallAfter
}

// stalledRequests asks p, which has little to do while no piece may start,
// for blocks of started pieces held by peers that are behind: if one of
// them stopped sending, its blocks pin the piece memory and every other
// peer idles until its requests time out (checkTimeouts). As in endgame
// (and libtorrent's busy blocks) at most two requests per block; the first
// copy to arrive cancels the other.
func (d *downloader) stalledRequests(p *dlPeer, now time.Time, batch []byte) []byte {
	for _, q := range d.peers {
		if q == p || !q.behind(now) {
			continue
		}
		for key := range q.inflight {
			if len(p.inflight) >= minDepth {
				return batch
			}
			ps := d.pieces.active[int(key>>32)]
			if ps == nil || !p.has.Has(ps.index) || !d.mayJoin(p, ps) {
				continue
			}
			b := int(uint32(key)) / blockSize
			if _, mine := p.inflight[key]; ps.got[b] || mine || ps.reqs[b] >= 2 {
				continue
			}
			batch = p.request(ps, b, batch, now)
		}
	}
	return batch
}

// unstall (the run loop, every 25 ms): while no piece may start and a peer
// is behind, the idle peers take over its blocks at once rather than at the
// next tick; once they have some, each block they bring asks for more.
func (d *downloader) unstall(now time.Time) {
	if !d.pieces.full() || !d.anyBehind(now) {
		return
	}
	for _, p := range d.peers {
		if !p.choked && len(p.inflight) < minDepth {
			d.fill(p)
		}
	}
}

func (d *downloader) anyBehind(now time.Time) bool {
	for _, q := range d.peers {
		if q.behind(now) {
			return true
		}
	}
	return false
}

// setUrgent replaces the pieces readers wait for, most urgent first: the
// first blocked of them hold the bytes a read is blocked on, the first
// waited those and the reads' readahead (SetUrgent). A piece of skipped
// files becomes wanted: its reader is the user asking.
func (d *downloader) setUrgent(pieces []int, blocked, waited int) {
	valid := pieces[:0:0]
	d.blocked, d.waited = 0, 0
	for k, i := range pieces {
		if i >= 0 && i < d.pieces.numPieces && !d.have.Has(i) {
			valid = append(valid, i)
			d.want(i)
			if k < blocked {
				d.blocked++
			}
			if k < waited {
				d.waited++
			}
		}
	}
	d.urgent = valid
	now := time.Now()
	if len(valid) > 0 {
		d.readAt = now
	}
	d.picker.post(sdk.UrgentSet{Pieces: valid})
	var helpers []*dlPeer
	for _, p := range d.peers {
		if !p.choked && d.urgentWork(p, now) {
			helpers = append(helpers, p)
		}
	}
	for _, p := range helpers {
		d.preempt(p)
	}
	d.assignUrgent(helpers, now)
	for _, p := range d.peers {
		d.fill(p) // what assignUrgent left, and everyone's bulk
	}
}

// The first urgentDup bytes of the urgent blocks not yet here, those a
// read is blocked on now, are asked of urgentCopies peers each; the first
// copy cancels the rest (cancelOthers). A rate-capped seeder sends in
// bursts (libtorrent hands out its quota every half second, and whatever
// it already read into its send buffer goes first), so when a block
// arrives depends on where that peer is in its cycle: of two peers, the
// one whose burst comes first delivers. A quarter MiB, not the whole
// MiB a seek reads: a copy a seeder has read into its send buffer is sent
// anyway and takes quota from the blocks after it, and the rest of the
// read is asked as a window is, paced (pace.go), so less of it sits in
// the seeders' send buffers; with back-to-back seeks the seeders' quota
// is what limits (docs/performance.md, round 2).
//
// But a copy costs its seeder's quota all the same: libtorrent sends most
// cancelled blocks anyway (in case 10, three in four; a stream whose every
// piece was asked twice lost 42% of what the seeders sent to copies). So
// the copies stop at copyShare of a second of the swarm's rate: the whole
// quarter MiB in a swarm of 4 MB/s or more (case 8's), three blocks in
// one of 1 MB/s (case 10's); the rest of the urgentDup window is still
// asked as the first blocks are (at once, up to a whole pipeline), once,
// and a block of it is copied only once it is late: asked lateAfter ago,
// two of a seeder's ticks, so behind a long queue there; or queued behind
// more than its peer sends a tick, by a peer that would send it in its
// next burst (queuedAhead).
//
// Only the pieces a read is blocked on are copied, not a stream's window
// kept ahead of a reader who waits for nothing: a video's window, asked
// twice at each of its pieces, kept every seeder at its cap, sending in
// bursts with no quota left over for the next seek (docs/performance.md,
// round 7).
const (
	urgentCopies = 2
	urgentDup    = 256 << 10
	copyShare    = 16 // 1/16 s
	lateAfter    = time.Second
)

// copied says whether block b of ps, the k-th of the urgent blocks not
// here, is asked of urgentCopies peers: of the urgentDup window, one
// queued deep at its one peer (queuedAhead), or, if it holds bytes a read
// is blocked on (own), one of the first n (copyBlocks) or late. It also
// gives the most requests a peer may have out to take the copy: any
// number but for one queued deep, which goes only where it comes sooner.
//
// A read's readahead gets only the deep copies: a deep request is mostly
// cancelled before its seeder reads it, while a seeder sends a copy of
// the first n or a late one whether cancelled or not. With 1 MiB reads
// back to back, each read's readahead copied as the window moved on took
// the seeders' quota the next read needed: with the first n and late
// copies a sixth of case 8's seeks waited two of the seeders' ticks, not
// one; without them for the readahead, a twentieth (docs/performance.md,
// round 11). The deep copies stay: at a play's start the second piece is
// the first read's readahead, queued behind the first (round 10).
func (d *downloader) copied(ps *pieceState, b, k, n int, own bool, now time.Time) (bool, int) {
	switch {
	case own && k < n:
		return true, math.MaxInt
	case k >= d.dup/blockSize || ps.reqs[b] == 0:
		return false, 0
	case own && now.Sub(ps.askedAt[b]) >= lateAfter:
		return true, math.MaxInt
	}
	if a := d.queuedAhead(ps, b); a >= 0 {
		return true, a
	}
	return false, 0
}

// queuedAhead is how many requests wait before block b of ps at the one
// peer asked for it, if they are more than that peer sends a tick; -1 if
// not. A rate-capped seeder sends a burst a tick (500 ms), so such a block
// comes a tick later or more, while a peer that just unchoked us, its
// queue empty, would send it at once: at the start of a play the second
// piece sat behind the first at the first seeder to unchoke us while the
// next two sent later pieces, and the play stalled half a second.
func (d *downloader) queuedAhead(ps *pieceState, b int) int {
	if ps.reqs[b] != 1 {
		return -1
	}
	key := blockKey(uint32(ps.index), uint32(b*blockSize))
	for _, p := range d.peers {
		if _, ok := p.inflight[key]; ok {
			if len(p.inflight) <= p.burstBlocks() {
				return -1 // no counting: nothing is that deep
			}
			if a := p.ahead(key); a >= p.burstBlocks() {
				return a
			}
			return -1
		}
	}
	return -1
}

// burstBlocks is about how many blocks p sends a tick: half a second of
// its pace peak; before its rate is known, about what a libtorrent seeder
// sends as it unchokes us.
func (p *dlPeer) burstBlocks() int {
	if p.peak <= 0 {
		return 8
	}
	return max(4, int(p.peak/2/blockSize))
}

// ahead counts p's requests asked before its request for key: a peer
// serves requests in the order they came.
func (p *dlPeer) ahead(key uint64) int {
	at, n := p.inflight[key], 0
	for _, o := range p.inflight {
		if o < at {
			n++
		}
	}
	return n
}

// copyTaker says whether an unchoked peer not asked for block b of ps,
// that has the piece and may join it, could take a copy with that limit
// (copied): else a block queued deep everywhere, or of a piece one peer
// fetches alone (ban.go), would have lateCopies assign in vain every
// 25 ms.
func (d *downloader) copyTaker(ps *pieceState, b, limit int) bool {
	key := blockKey(uint32(ps.index), uint32(b*blockSize))
	for _, p := range d.peers {
		if !p.choked && d.mayAsk(p, ps, key) && p.takesCopy(limit) {
			return true
		}
	}
	return false
}

// mayAsk says whether p could be asked for the block with key of ps: it
// has the piece, may join it (ban.go), and was not asked for that block.
func (d *downloader) mayAsk(p *dlPeer, ps *pieceState, key uint64) bool {
	_, mine := p.inflight[key]
	return !mine && p.has.Has(ps.index) && d.mayJoin(p, ps)
}

// takesCopy says whether p may be asked for a copy that wants a peer with
// fewer than limit requests out (copied): one queued deep elsewhere goes
// only where it comes in p's next burst, too.
func (p *dlPeer) takesCopy(limit int) bool {
	return limit == math.MaxInt || len(p.inflight) < min(limit, p.burstBlocks())
}

// lateCopies asks for copies of the blocks that became late (the run
// loop, every 25 ms): no read or peer event may come meanwhile.
func (d *downloader) lateCopies(now time.Time) {
	if !d.late(now) {
		return
	}
	var helpers []*dlPeer
	for _, p := range d.peers {
		if !p.choked && d.urgentWork(p, now) {
			helpers = append(helpers, p)
		}
	}
	if len(helpers) > 0 {
		d.assignUrgent(helpers, now)
	}
}

// late says whether a block of the urgentDup window is late and asked of
// fewer than urgentCopies peers, and a peer could take its copy.
func (d *downloader) late(now time.Time) bool {
	n, late := d.copyBlocks(), false
	d.dupWindow(func(ps *pieceState, b, k int, own bool) bool {
		ok, limit := d.copied(ps, b, k, n, own, now)
		late = ps.reqs[b] > 0 && ps.reqs[b] < urgentCopies && ok && d.copyTaker(ps, b, limit)
		return !late
	})
	return late
}

// dupWindow calls f with each block of the urgentDup window, the first
// blocks not here of the pieces reads wait for, its place k among them,
// and whether it holds bytes a read is blocked on (not its readahead), in
// order, while f returns true; it stops at an urgent piece not started
// (firstUrgent's).
func (d *downloader) dupWindow(f func(ps *pieceState, b, k int, own bool) bool) {
	k := 0
	for r, i := range d.urgent[:d.waited] {
		ps := d.pieces.active[i]
		if ps == nil {
			if d.have.Has(i) || d.pieces.verifying[i] {
				continue // all here
			}
			return
		}
		for b := range ps.got {
			if ps.got[b] {
				continue
			}
			if k >= d.dup/blockSize || !f(ps, b, k, r < d.blocked) {
				return
			}
			k++
		}
	}
}

// copyBlocks is how many of the first urgent blocks not here are asked of
// urgentCopies peers: the urgentDup window, cut to a copyShare of the
// unchoked peers' rates (their pace peaks); only the first block before
// any rate is known, in the first second. A libtorrent seeder sends its
// first second's quota at once as it unchokes us: two of them copying
// each other's blocks then waste half of it, and a reader that comes at
// the start waits for their next bursts (docs/performance.md, round 6).
func (d *downloader) copyBlocks() int {
	n := d.dup / blockSize
	var rate int64
	for _, p := range d.peers {
		if !p.choked {
			rate += p.peak
		}
	}
	if rate == 0 {
		return min(n, 1)
	}
	return min(n, max(1, int(rate/copyShare/blockSize)))
}

// assignUrgent asks for the urgent blocks nobody was asked for, most
// urgent first, each of the helper that would deliver it soonest: the one
// with the fewest blocks given so far for the size of its pipeline (about
// its rate). So every helper works on the first pieces at once, rather
// than one peer taking them all at its own rate. The first d.dup blocks
// go to a second helper as well, and may fill a helper's whole pipeline;
// the rest (a stream's window) only its short one (fillDepth): a seeder
// reads what it was asked for into its send buffer, which a Cancel cannot
// take back, so a window asked for in full would go ahead of the next
// seek's blocks.
func (d *downloader) assignUrgent(helpers []*dlPeer, now time.Time) {
	u := urgentAssignment{helpers: helpers, load: make([]int, len(helpers)), batches: make([][]byte, len(helpers)),
		short: make([]int, len(helpers)), now: now}
	for k, p := range helpers {
		u.short[k] = d.fillDepth(p, u.now)
	}
	k, n := 0, d.copyBlocks()
	for r, i := range d.urgent {
		ps := d.pieces.active[i]
		if ps == nil {
			h := slices.IndexFunc(helpers, func(p *dlPeer) bool { return d.usable(p, i) })
			if h < 0 {
				continue
			}
			ps = d.startPiece(helpers[h], i)
		}
		for b := range ps.got {
			if ps.got[b] {
				continue
			}
			copies, first, limit := 1, k < d.dup/blockSize, math.MaxInt
			if r < d.waited {
				if ok, l := d.copied(ps, b, k, n, r < d.blocked, u.now); ok {
					copies, limit = urgentCopies, l
				}
			}
			k++
			for int(ps.reqs[b]) < copies {
				if !d.assignBlock(&u, ps, b, first, limit) {
					break
				}
			}
		}
	}
	for k, p := range helpers {
		if len(u.batches[k]) > 0 {
			p.out.send(u.batches[k])
		}
	}
}

// urgentAssignment is one assignUrgent's state, per helper: the blocks
// given so far, the requests to send, and its short pipeline.
type urgentAssignment struct {
	helpers []*dlPeer
	load    []int
	batches [][]byte
	short   []int
	now     time.Time
}

// assignBlock asks block b of ps of the helper that would deliver it
// soonest and has room (its whole pipeline for the first blocks of a
// read, else its short one); false if none can take it.
func (d *downloader) assignBlock(u *urgentAssignment, ps *pieceState, b int, first bool, copyLimit int) bool {
	key := blockKey(uint32(ps.index), uint32(b*blockSize))
	best := -1
	for k, p := range u.helpers {
		limit := p.depth
		if !first {
			limit = u.short[k]
		}
		if len(p.inflight) >= limit || !d.mayAsk(p, ps, key) {
			continue
		}
		if ps.reqs[b] > 0 && !p.takesCopy(copyLimit) {
			continue
		}
		if best < 0 || (u.load[k]+1)*u.helpers[best].depth < (u.load[best]+1)*p.depth {
			best = k
		}
	}
	if best < 0 {
		return false
	}
	p := u.helpers[best]
	u.batches[best] = p.request(ps, b, u.batches[best], u.now)
	u.load[best]++
	p.paced(1, u.now) // the first blocks too: they take the seeder's quota
	return true
}

// preempt makes room in p's pipeline for urgent blocks. A peer serves
// requests in the order they came, and the pipeline holds about a second
// of its rate: urgent requests queued behind it would wait that second.
// So they are cancelled (anyone may fetch them later), the oldest too: a
// block already on the wire, or in the seeder's send buffer, comes all the
// same and is filed (gotBlock), while one the seeder had not read yet
// would go ahead of the urgent blocks; then fill asks for those. What
// goes is bulk and blocks of urgent pieces after the first one with blocks
// nobody was asked for: a seek's read comes before the window another
// stream read ahead. Copies (copyPiece) take no room: a window that moved
// on by a piece, its first pieces now within the copy window, would have
// the rest of its requests cancelled at every read, and a seeder sends
// much of what it was asked for anyway, so the window would be fetched
// twice.
func (d *downloader) preempt(p *dlPeer) {
	if p.choked || len(p.inflight) == 0 {
		return
	}
	i, _ := d.firstUrgent(p)
	if i < 0 {
		return
	}
	w := slices.Index(d.urgent, i)
	var later []uint64
	for key := range p.inflight {
		if r := slices.Index(d.urgent, int(key>>32)); r < 0 || r > w {
			later = append(later, key)
		}
	}
	var b []byte
	for _, key := range later {
		b = appendCancel(b, key, d.pieces.geometry)
		d.pieces.release(p, key)
	}
	if len(b) > 0 {
		p.out.send(b)
	}
}

// urgentWork says whether p has an urgent piece with blocks nobody was
// asked for yet, or could take a second copy of one a reader waits for.
func (d *downloader) urgentWork(p *dlPeer, now time.Time) bool {
	return d.workRank(p, now) < len(d.urgent)
}

// workRank is the place in d.urgent of the first piece p could be asked
// for blocks or copies of; len(d.urgent) if none.
func (d *downloader) workRank(p *dlPeer, now time.Time) int {
	r := len(d.urgent)
	if i, _ := d.firstUrgent(p); i >= 0 {
		r = slices.Index(d.urgent, i)
	}
	if i := d.copyPiece(p, now); i >= 0 {
		r = min(r, slices.Index(d.urgent, i))
	}
	return r
}

// copyPiece is the first urgent piece with a block to be copied (copied)
// that is asked of fewer than urgentCopies peers, and not of p, who could
// be asked; -1 if none.
func (d *downloader) copyPiece(p *dlPeer, now time.Time) int {
	n, found := d.copyBlocks(), -1
	d.dupWindow(func(ps *pieceState, b, k int, own bool) bool {
		if ps.reqs[b] < urgentCopies && d.mayAsk(p, ps, blockKey(uint32(ps.index), uint32(b*blockSize))) {
			if ok, limit := d.copied(ps, b, k, n, own, now); ok && p.takesCopy(limit) {
				found = ps.index
			}
		}
		return found < 0
	})
	return found
}

// urgentPiece is the first urgent piece p can help with, started if it
// was not yet, or nil.
func (d *downloader) urgentPiece(p *dlPeer) *pieceState {
	i, ps := d.firstUrgent(p)
	if i < 0 || ps != nil {
		return ps
	}
	return d.startPiece(p, i)
}

// firstUrgent is the first urgent piece p can help with: its index and,
// if it is under way, its state; -1 if none.
func (d *downloader) firstUrgent(p *dlPeer) (int, *pieceState) {
	for _, i := range d.urgent {
		if ps := d.pieces.active[i]; ps != nil {
			if ps.unrequested > 0 && p.has.Has(i) && d.mayJoin(p, ps) {
				return i, ps
			}
		} else if d.usable(p, i) {
			return i, nil
		}
	}
	return -1, nil
}

// startPiece starts piece i with p; a piece that failed with several
// senders is fetched again from p alone (ban.go).
func (d *downloader) startPiece(p *dlPeer, i int) *pieceState {
	ps := d.pieces.start(i)
	if d.solo(i) {
		ps.solo = p.id
	}
	return ps
}

// mayJoin says whether p may fetch blocks of ps: anyone, unless ps is
// another peer's solo attempt. A solo piece whose peer left or chokes us
// is open to all: holding it for a peer that does not send would pin it.
func (d *downloader) mayJoin(p *dlPeer, ps *pieceState) bool {
	if ps.solo == 0 || ps.solo == p.id {
		return true
	}
	owner := d.peers[ps.solo]
	return owner == nil || owner.choked
}

// abandon gives up p's solo attempt at ps after p refused a block of it:
// what p sent is dropped and the piece is free to start again.
func (d *downloader) abandon(ps *pieceState, p *dlPeer) {
	for key := range p.inflight {
		if int(key>>32) == ps.index {
			d.pieces.release(p, key)
		}
	}
	if d.pieces.active[ps.index] != ps {
		return // release let it go: nothing of it had arrived
	}
	d.pieces.finish(ps)
	d.pieces.recycle(ps.buf)
	// The picker forgets it was started, as after a failed hash check.
	d.picker.post(sdk.PieceFailed{Piece: ps.index})
}

// withdraw notes that p's request for key was taken back (a Cancel, a
// release): its block may still come (gotBlock). A fast peer (BEP 6)
// answers every request, a cancelled one with its block or a reject, in
// the order asked; libtorrent sends a reject only when its send buffer
// drains, at its next burst, by when the block may have been asked of p
// again. So a fast peer's withdrawn requests are kept by block, for
// answered to tell the reject of a Cancel from that of a live request.
func (p *dlPeer) withdraw(key uint64) {
	p.withdrawn++
	if !p.fast {
		return
	}
	if p.cancelled == nil || len(p.cancelled) >= 4*maxDepth {
		// A peer that leaves Cancels unanswered must not grow this
		// without end; forgetting only risks taking a stale reject for a
		// live request's, which costs that block a second request.
		p.cancelled = make(map[uint64]int)
	}
	p.cancelled[key]++
}

// answered takes an answer of p for key (a reject, or a block nobody
// waits for) as that of a request taken back, if p has one: it came
// before any request for key made since. It reports whether it did; the
// caller of a block counts withdrawn itself.
func (p *dlPeer) answered(key uint64) bool {
	n := p.cancelled[key]
	switch {
	case n == 0:
		return false
	case n == 1:
		delete(p.cancelled, key)
	default:
		p.cancelled[key] = n - 1
	}
	return true
}
