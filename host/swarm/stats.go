package swarm

import (
	"time"

	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// rateWindow is how many one-second samples a rate averages.
const rateWindow = 5

// meter turns a growing byte count into a rate over the last few seconds.
type meter struct {
	samples [rateWindow]int64
	n       int
	last    int64
}

func (m *meter) add(total int64) int64 {
	m.samples[m.n%rateWindow] = total - m.last
	m.last = total
	m.n++
	var sum int64
	for _, v := range m.samples {
		sum += v
	}
	return sum / int64(min(m.n, rateWindow))
}

// peerRates are a peer's download and upload rates in bytes/s.
type peerRates struct {
	dm, um   meter
	down, up int64
}

func (r *peerRates) tick(down, up int64) {
	r.down, r.up = r.dm.add(down), r.um.add(up)
}

// counters are the swarm's byte totals for this session.
type counters struct {
	wasted, verified int64 // failed pieces; verified pieces
	lost             int   // verified pieces later found bad on disk
	upGone           int64 // uploads of peers that have left
	dm, um           meter
	downRate, upRate int64
}

// PeerStats describes one connection.
type PeerStats struct {
	Addr       string
	Client     string
	DownRate   int64
	UpRate     int64
	Pieces     int
	Choked     bool // they choke us
	Interested bool // they want our data
	Inflight   int
	// Source is where its address came from (addrbook.Incoming for a
	// peer that connected to us).
	Source    addrbook.Source
	Incoming  bool // it connected to us
	Encrypted bool // MSE (RC4 or MSE's plaintext mode)
	Snubbed   bool // it left our requests unanswered for 20 s
}

// Stats is a snapshot of the swarm, published once a second.
type Stats struct {
	Have        bitfield.Bitfield
	Downloading []int // pieces in flight
	NumPieces   int
	Wanted      bitfield.Bitfield // pieces of the files chosen (and urgent ones)
	Missing     int               // wanted pieces not verified
	Downloaded  int64             // payload received this session, wasted included
	Wasted      int64             // duplicate blocks and failed pieces
	Verified    int64             // bytes of pieces verified this session
	Uploaded    int64
	DownRate    int64
	UpRate      int64
	Peers       []PeerStats
	Known       int
	Complete    bool
	// Lazy: Wanted and Missing are the goal (Config.Lazy), of which
	// only what was read is fetched.
	Lazy    bool
	Refused int64 // incoming connections closed over the connection limits
	// Status is what keeps the download from going on, in a few words
	// ("disk full at /data: retrying"); empty when nothing does.
	Status string
	// Lost is how many verified pieces were later found changed on disk
	// (and fetched again).
	Lost int
	// WebSeeds are the web seeds (BEP 19); Peers lists them too.
	WebSeeds []WebSeedStats
}

// Progress is the bytes of wanted pieces verified, and of all wanted
// pieces: what progress and ETA count when only some files are chosen.
// size is the length of a piece (the last one is short).
func (st Stats) Progress(size func(piece int) int64) (done, total int64) {
	for i := range st.Wanted.Len() {
		if st.Wanted.Has(i) {
			total += size(i)
			if st.Have.Has(i) {
				done += size(i)
			}
		}
	}
	return done, total
}

func (s *Swarm) publishStats() {
	up := s.counters.upGone
	st := &Stats{
		Have:      s.dl.have.Clone(),
		NumPieces: s.cfg.NumPieces,
		Wanted:    s.dl.wanted.Clone(),
		Missing:   s.dl.missing,
		Known:     s.book.Len(),
		Complete:  s.dl.complete(),
		Lazy:      s.dl.lazy,
		Status:    s.stall.status,
		Lost:      s.counters.lost,
		Peers:     make([]PeerStats, 0, len(s.peers)),
	}
	if s.dl.lazy {
		st.Wanted, st.Missing = s.dl.goal.Clone(), s.dl.goalMissing
	}
	for _, ps := range s.dl.pieces.order {
		st.Downloading = append(st.Downloading, ps.index)
	}
	for _, p := range s.peers {
		up += p.uploaded.Load()
		st.Peers = append(st.Peers, PeerStats{
			Addr: p.addr.String(), Client: wire.ClientName(p.peerID),
			DownRate: p.rates.down, UpRate: p.rates.up, Pieces: p.dl.has.Count(),
			Choked: p.dl.choked, Interested: p.peerInterested, Inflight: len(p.dl.inflight),
			Source: p.src, Incoming: !p.outgoing, Encrypted: p.enc != 0, Snubbed: p.dl.snubbed,
		})
	}
	c := &s.counters
	c.downRate, c.upRate = c.dm.add(s.dl.down), c.um.add(up)
	st.Downloaded, st.Wasted, st.Verified, st.Uploaded = s.dl.down, c.wasted+s.dl.wasted, c.verified, up
	st.DownRate, st.UpRate = c.downRate, c.upRate
	st.Refused = s.conn.refused.Load()
	s.webStats(st)
	s.published.stats.Store(st)
}

// logRefused says, at most every 30 s, that incoming connections are being
// refused: under a flood that is once, not once per connection.
func (s *Swarm) logRefused(now time.Time) {
	c := s.conn
	n := c.refused.Load()
	if n == c.refusedLogged || now.Sub(c.refusedLogAt) < 30*time.Second {
		return
	}
	s.log.Warn("refused incoming connections over the limit", "since_last", n-c.refusedLogged, "total", n,
		"max_half_open", s.cfg.MaxHalfOpen, "max_sockets", s.cfg.MaxPeers+s.cfg.MaxHalfOpen)
	c.refusedLogged, c.refusedLogAt = n, now
}
