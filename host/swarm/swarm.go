// Package swarm is the core loop of one torrent: it owns the peer
// connections, the block requests, the piece verification and the upload
// policy. One goroutine (run) owns all of that state; peers' reader and
// writer goroutines only move bytes and talk to it over channels.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/ratelimit"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/webseed"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Storage is the data the swarm reads for uploads and writes once a piece
// is verified. Offsets are within the torrent's concatenated data.
type Storage interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	CheckPiece(i int, data []byte) bool
}

// Picker takes the swarm's state changes and answers with ranked pieces; it
// must never block (host/pick.Manager).
type Picker interface {
	Post(events []sdk.Event, want []sdk.Want)
	Picks() <-chan sdk.Picks
}

// Config is what a swarm needs; the zero value of optional fields is a
// sane default.
type Config struct {
	InfoHash    [20]byte
	PeerID      [20]byte
	NumPieces   int
	PieceLength int64
	TotalLength int64
	Have        bitfield.Bitfield // pieces verified on disk at start
	// Wanted is the pieces of the files the user chose; the zero
	// Bitfield means every piece. Only these are fetched, and the
	// download is complete once they are verified.
	Wanted bitfield.Bitfield
	// Lazy fetches nothing until asked (SetUrgent, Want): Wanted is only
	// what makes the download complete (lazy.go).
	Lazy bool
	// Mounted says a torfs mount reads from the swarm: no bulk is asked
	// for its first moment, for a reader that comes at once (mountHold).
	Mounted  bool
	Storage  Storage
	Picker   Picker
	Listener net.Listener // incoming peers; nil for none
	Logger   hclog.Logger
	UpRate   int64 // bytes/s, 0 = unlimited
	DownRate int64 // bytes/s, 0 = unlimited
	MaxPeers int   // established peers, default 60
	// MaxHalfOpen bounds incoming connections still in their handshake,
	// default 20. MaxPeers+MaxHalfOpen bounds all peer sockets (limits.go).
	MaxHalfOpen int
	Timeouts    Timeouts
	Seed        bool // keep running once complete
	// EncryptOutgoing starts connections we open with MSE (RC4 or
	// plaintext, as the peer picks), retrying plain if that fails.
	// Incoming connections may use MSE or not either way.
	EncryptOutgoing bool
	// WebSeeds are HTTP seeds of the torrent (BEP 19, webseed.go).
	WebSeeds []*webseed.Seed
	// Info is the torrent's info dictionary as bencoded in the .torrent
	// (its SHA-1 is InfoHash). When set, the extension handshake names
	// its size and peers may fetch it over ut_metadata (BEP 9); when nil,
	// their requests are rejected.
	Info []byte
	// Private is BEP 27's private flag: no PEX at all (ut_pex is not
	// advertised, nothing is sent, nothing received is used) and no DHT
	// (no DHT bit, no Port message either way).
	Private bool
	// NoPEX turns PEX (BEP 11) off for a public torrent, as Private does.
	NoPEX bool
	// DHTPort is the UDP port of our DHT node; 0 for none. When set, our
	// handshake announces a DHT node and peers whose handshake does too
	// are sent a Port message with it (BEP 5).
	DHTPort int
	// OnDHTPort is given each peer's DHT node (its IP, the port of its
	// Port message), so the session can add it to our DHT node. It is
	// called on a goroutine of its own, one call at a time; when calls
	// fall behind, newer nodes are dropped rather than wait. nil ignores
	// Port messages.
	OnDHTPort func(netip.AddrPort)
	// Banned are IPs refused from the start (a magnet link's metadata
	// phase banned them).
	Banned []netip.Addr
	// Adopt are peer connections handshaken before the swarm (a magnet
	// link's metadata phase accepted them): Run takes them as peers, as
	// if it had accepted them itself, within the same limits.
	Adopt []Handshaken
}

// Swarm runs one torrent's peers. Create it with New, then call Run once.
type Swarm struct {
	cfg        Config
	log        hclog.Logger
	upLim      *ratelimit.Limiter
	dnLim      *ratelimit.Limiter
	conn       *connector
	inbox      chan inMsg // from peer readers, in arrival order
	addrs      chan found
	done       chan struct{} // closed when every piece is verified
	geo        geometry
	data       pieceData // for the goroutines that read and write pieces
	upCache    *upCache  // pieces read and hashed for upload, shared by the peer writers
	*published           // what other goroutines may read (HasPiece, Stats, ...)

	urgentCh chan urgentSet
	selCh    chan Selection      // SetSelection (choose.go)
	wants    wants               // pieces to fetch, from Want (lazy.go)
	dhtPorts chan netip.AddrPort // to OnDHTPort (ext.go)
	// Owned by run: peers with ut_metadata pieces waiting (ext.go).
	metaWaiting map[*peer]bool
	book        *addrbook.Book // peer addresses and the dial policy; bans are read by the acceptor too
	nextID      atomic.Uint64
	wg          sync.WaitGroup // peer goroutines, dialers, acceptor

	// Owned by run.
	dl       *downloader // pieces, requests, interest: what to ask whom for
	picker   pickerQueue // events and wants for the next flushPicker
	peers    map[sdk.PeerID]*peer
	byPeerID map[[20]byte]*peer
	suspects *suspects
	verifier *verifier
	disk     *diskCheck // pieces to hash again: their files changed
	counters counters
	stall    stall // the disk refuses writes
	web      []*webSeed
	webIn    chan webResult // runs fetched by web seeds
}

// New prepares a swarm; nothing runs until Run.
func New(cfg Config) *Swarm {
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = DefaultMaxHalfOpen
	}
	cfg.Timeouts.setDefaults()
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	s := &Swarm{
		cfg:      cfg,
		log:      cfg.Logger,
		upLim:    ratelimit.New(cfg.UpRate),
		dnLim:    ratelimit.New(cfg.DownRate),
		inbox:    make(chan inMsg, 256),
		addrs:    make(chan found, 16),
		done:     make(chan struct{}),
		peers:    make(map[sdk.PeerID]*peer),
		byPeerID: make(map[[20]byte]*peer),
		book:     addrbook.New(cfg.MaxPeers),
		suspects: newSuspects(),
		webIn:    make(chan webResult, 2*webFetchers),
	}
	for _, ip := range cfg.Banned {
		s.book.Ban(ip)
	}
	s.conn = &connector{
		infoHash: cfg.InfoHash, peerID: cfg.PeerID, skeys: mse.InfoHashes(cfg.InfoHash),
		encrypt: cfg.EncryptOutgoing, dht: s.dhtOn(), timeouts: cfg.Timeouts, ln: cfg.Listener, log: s.log,
		banned:  s.book.Banned,
		sockets: make(slots, cfg.MaxPeers+cfg.MaxHalfOpen), halfOpen: make(slots, cfg.MaxHalfOpen),
		conns: make(chan *handshook), failed: make(chan netip.AddrPort), wg: &s.wg,
	}
	s.geo = geometry{numPieces: cfg.NumPieces, pieceLength: cfg.PieceLength, totalLength: cfg.TotalLength}
	s.data = pieceData{geo: s.geo, st: cfg.Storage}
	s.published = newPublished(cfg.Have)
	s.upCache = newUpCache(s.data)
	s.verifier = newVerifier(s.data, s.upCache)
	s.disk = newDiskCheck(s.data, s.upCache, s.published.HasPiece, s.log)
	s.dl = newDownloader(s.geo, cfg.Have, cfg.Wanted, &s.picker)
	s.dl.solo = func(i int) bool { return s.suspects.pieces[i] != nil }
	s.dl.verify = s.verifier.add
	if cfg.Lazy {
		s.dl.makeLazy()
	}
	if cfg.Mounted {
		s.dl.holdUntil = time.Now().Add(mountHold)
	}
	s.wants.ready = make(chan struct{}, 1)
	s.stall = stall{log: s.log, dl: s.dl, v: s.verifier, publish: s.publishStats}
	s.urgentCh = make(chan urgentSet, 1)
	s.selCh = make(chan Selection, 1)
	s.dhtPorts = make(chan netip.AddrPort, dhtPortQueue)
	s.metaWaiting = make(map[*peer]bool)
	if s.dl.complete() {
		close(s.done)
	}
	s.publishStats()
	return s
}

// Done is closed once every wanted piece is verified.
func (s *Swarm) Done() <-chan struct{} { return s.done }

// found is a batch of addresses and where they came from.
type found struct {
	src   addrbook.Source
	addrs []netip.AddrPort
}

// AddPeers hands the swarm addresses from a tracker to connect to.
func (s *Swarm) AddPeers(addrs []netip.AddrPort) { s.AddPeersFrom(addrbook.Tracker, addrs) }

// AddPeersFrom hands the swarm addresses found by src. It never blocks the
// caller for long: a full queue drops the batch, and the source will send
// more.
func (s *Swarm) AddPeersFrom(src addrbook.Source, addrs []netip.AddrPort) {
	select {
	case s.addrs <- found{src, addrs}:
	default:
	}
}

// Run drives the torrent until ctx ends, or until the download completes
// when Config.Seed is false. It returns nil in both cases.
func (s *Swarm) Run(ctx context.Context, fixed []netip.AddrPort) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.book.Add(addrbook.User, fixed...)
	for _, h := range s.cfg.Adopt {
		s.adopt(ctx, h)
	}
	s.startWebSeeds(ctx)
	if s.cfg.Listener != nil {
		s.wg.Add(1)
		go s.conn.accept(ctx)
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.disk.run(ctx) }()
	if s.cfg.OnDHTPort != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.reportDHTPorts(ctx) }()
	}
	workers := max(1, numVerifiers())
	var vwg sync.WaitGroup
	for range workers {
		vwg.Add(1)
		go func() { defer vwg.Done(); s.verifier.run() }()
	}
	err := s.run(ctx)
	cancel()
	s.verifier.close()
	if s.cfg.Listener != nil {
		s.cfg.Listener.Close()
	}
	for _, p := range s.peers {
		p.close()
	}
	s.drainUntilStopped(&vwg)
	s.publishStats()
	s.published.stop()
	return err
}

// drainUntilStopped waits for peer goroutines while still consuming what
// they send, so none of them blocks on a channel nobody reads.
func (s *Swarm) drainUntilStopped(vwg *sync.WaitGroup) {
	stopped := make(chan struct{})
	go func() { s.wg.Wait(); vwg.Wait(); close(stopped) }()
	for {
		select {
		case <-stopped:
			return
		case m := <-s.inbox:
			m.release()
		case h := <-s.conn.conns:
			h.conn.Close()
		case <-s.conn.failed:
		case <-s.addrs:
		}
	}
}

func (s *Swarm) run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	flush := time.NewTicker(25 * time.Millisecond)
	defer flush.Stop()
	s.dialKnown(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-s.inbox:
			s.handle(m)
		case h := <-s.conn.conns:
			s.addPeer(ctx, h)
		case a := <-s.conn.failed:
			s.book.DialFailed(a, time.Now())
		case <-s.verifier.ready:
			for _, r := range s.verifier.take() {
				if err := s.pieceVerified(r); err != nil {
					return err
				}
			}
			if s.dl.complete() && !s.cfg.Seed {
				s.flushPicker()
				return nil
			}
		case <-s.disk.ready:
			s.lostPieces(s.disk.take())
		case f := <-s.addrs:
			s.book.Add(f.src, f.addrs...)
			s.dialKnown(ctx, time.Now())
		case r := <-s.webIn:
			s.webResult(r)
		case u := <-s.urgentCh:
			s.dl.setUrgent(u.pieces, u.blocked, u.waited)
		case sel := <-s.selCh:
			if s.applySelection(sel) && !s.cfg.Seed {
				s.flushPicker()
				return nil
			}
		case <-s.wants.ready:
			s.takeWants()
		case picks := <-s.cfg.Picker.Picks():
			s.dl.takePicks(picks, time.Now())
		case now := <-tick.C:
			s.tick(ctx, now)
		case <-flush.C:
			s.dl.paceTick()
			s.dl.unstall(time.Now())
			s.flushPicker()
			s.serveWaitingMetadata()
		}
	}
}

// flushPicker sends the queued picker events and wants in one batch.
func (s *Swarm) flushPicker() {
	q := &s.picker
	if len(q.events) == 0 && len(q.wants) == 0 {
		return
	}
	s.cfg.Picker.Post(q.events, q.wants)
	q.events, q.wants = nil, nil
}

func (s *Swarm) tick(ctx context.Context, now time.Time) {
	for _, p := range s.peers {
		p.rates.tick(p.dl.downloaded, p.uploaded.Load())
		if err := s.dl.checkTimeouts(p.dl, now); err != nil {
			s.dropPeer(p, err)
			continue
		}
		if s.inUse(p) {
			p.lastUse = now
		} else if now.Sub(p.lastUse) >= s.cfg.Timeouts.Unused {
			s.dropPeer(p, errUnused)
			continue
		}
		p.dl.adjustDepth(p.rates.down)
		s.dl.fill(p.dl)
	}
	s.tickWeb(now)
	s.stall.retryWrites(now)
	s.sendPEX(now)
	s.dialKnown(ctx, now)
	s.publishStats()
	s.logRefused(now)
}

func (s *Swarm) dropPeer(p *peer, why error) {
	if _, ok := s.peers[p.id]; !ok {
		return
	}
	delete(s.peers, p.id)
	s.counters.upGone += p.uploaded.Load()
	if s.byPeerID[p.peerID] == p {
		delete(s.byPeerID, p.peerID)
	}
	how := addrbook.LeftOK
	switch {
	case errors.Is(why, errBothComplete):
		how = addrbook.LeftComplete
	case errors.Is(why, errProtocol):
		how = addrbook.LeftFault
	case errors.Is(why, errUnused):
		how = addrbook.LeftUnused
	}
	s.book.Disconnected(p.addr, how, time.Now())
	p.close()
	s.picker.post(sdk.PeerLeft{Peer: p.id})
	s.log.Debug("peer gone", "peer", p.addr, "reason", why)
	s.dl.removePeer(p.dl) // its blocks go to the others
}

func (s *Swarm) String() string { return fmt.Sprintf("swarm %x", s.cfg.InfoHash[:4]) }
