// Package session runs one torrent from start to stop: it checks what is
// on disk, starts the picker, the swarm and the tracker announcer, and keeps
// the resume state. cmd/torrent only parses flags and shows progress.
package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/dht"
	"github.com/torrent-dev/torrent/host/lsd"
	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/pick"
	"github.com/torrent-dev/torrent/host/selection"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/tracker"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Options configure a session; zero values are the defaults.
type Options struct {
	Dir      string           // data and resume state
	Listener net.Listener     // incoming peers (see Listen)
	Peers    []netip.AddrPort // always connect to these
	Seed     bool             // keep running once complete
	UpRate   int64            // bytes/s, 0 = unlimited
	DownRate int64            // bytes/s, 0 = unlimited
	WantRate int64            // ask the tracker for more peers below this rate
	MaxPeers int              // established peers; 0 = the swarm's default (60)
	Picker   string           // picker plugin name or path; "" = built-in only
	Reattach *sdk.Reattach    // a debug-mode picker to attach to instead
	Logger   hclog.Logger
	// EncryptOutgoing starts the connections we open with MSE, falling
	// back to plain; incoming peers may use MSE or not either way.
	EncryptOutgoing bool
	// Checking reports progress of the start-up check of data on disk.
	Checking func(done, total int)
	// LSD announces the torrent on the local network (BEP 14) with this
	// configuration (its InfoHash and Port are filled in); nil = off.
	LSD *lsd.Config
	// Only and Skip choose files (host/selection): only the chosen ones
	// are fetched and created.
	Only, Skip []string
	// WebSeeds are HTTP seeds (BEP 19) besides the torrent's url-list.
	WebSeeds []string
	// FullCheck hashes every piece at start, trusting no resume record.
	FullCheck bool
	// DHT finds peers for the torrent and announces it (startDHT); nil is
	// no DHT. The caller owns it and closes it after Run.
	DHT *dht.Node
	// NoPEX turns peer exchange (BEP 11) off; it is always off for a
	// private torrent.
	NoPEX bool
	// MetadataOnly (magnet links) ends Run once the metadata is fetched
	// and saved, before any data is checked or fetched.
	MetadataOnly bool
	// Lazy fetches only what torfs readers read and read ahead into,
	// keeps it and seeds it (lazy.go); Only and Skip still choose the
	// files that make the download complete.
	Lazy bool
	// Mounted says torfs reads from the session: the swarm waits a
	// moment for a first reader before it asks for bulk.
	Mounted bool
}

// The picker manager is what the swarm asks for picks.
var _ swarm.Picker = (*pick.Manager)(nil)

// Session is one running torrent.
type Session struct {
	meta     atomic.Pointer[metainfo.MetaInfo]   // nil until a magnet link's metadata arrives
	sel      atomic.Pointer[selection.Selection] // the files chosen; nil: all (set with meta, changed by SetFile)
	selMu    sync.Mutex                          // one SetFile at a time
	infoHash [20]byte
	peerID   [20]byte
	magnet   *magnet.Magnet // nil for a .torrent file
	info     []byte         // the raw info dictionary, when it came from peers or a saved file
	torrent  []byte         // the .torrent file made from a magnet link's metadata
	opts     Options
	log      hclog.Logger
	store    *storage.Storage // nil until the metadata is known
	feed     peerFeed         // where every peer source sends its addresses
	fetcher  atomic.Pointer[fetcher]
	bans     []netip.Addr // IPs the metadata phase banned, for the swarm
	// adoptions are connections of the metadata phase for the swarm.
	adoptions adoptions
	sources   sources // tracker (and DHT) for the whole session
	swarm     atomic.Pointer[swarm.Swarm]
	ann       atomic.Pointer[tracker.Announcer]
	picker    atomic.Pointer[pick.Manager]
	started   time.Time
	resume    *storage.Resume                   // totals of earlier sessions
	checked   atomic.Pointer[bitfield.Bitfield] // what the start-up check found
	checks    atomic.Int64                      // pieces checked so far at start-up
	readers   readers                           // torfs reads waiting for pieces
	asked     asked                             // a lazy session's pieces handed to the swarm
	ready     chan struct{}                     // closed once the swarm runs, or Run gave up before
	// announceGap is the tracker's MinGap; 0 keeps its default. Only
	// tests set it, to watch the announce policy within seconds.
	announceGap time.Duration
}

// Checking is the start-up check's progress: pieces checked, and whether
// it is over.
func (s *Session) Checking() (int, bool) {
	return int(s.checks.Load()), s.checked.Load() != nil
}

// Open reads the torrent and prepares its storage; nothing runs yet.
func Open(torrentPath string, opts Options) (*Session, error) {
	m, err := metainfo.Load(torrentPath)
	if err != nil {
		return nil, err
	}
	return OpenMeta(m, opts)
}

// OpenMeta is Open for a .torrent already parsed.
func OpenMeta(m *metainfo.MetaInfo, opts Options) (*Session, error) {
	s := newSession(m.InfoHash, opts)
	// m.InfoBytes is the raw info dictionary, served over ut_metadata.
	if err := s.setMeta(m, m.InfoBytes); err != nil {
		return nil, err
	}
	return s, nil
}

func newSession(infoHash [20]byte, opts Options) *Session {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Dir == "" {
		opts.Dir = "."
	}
	s := &Session{infoHash: infoHash, opts: opts, log: opts.Logger, ready: make(chan struct{})}
	copy(s.peerID[:], "-TZ0100-")
	rand.Read(s.peerID[8:])
	return s
}

// setMeta makes the torrent known and opens its storage; info is the raw
// info dictionary if we have it (a magnet link's), for serving it.
func (s *Session) setMeta(m *metainfo.MetaInfo, info []byte) error {
	sel, err := s.choose(&m.Info)
	if err != nil {
		return err
	}
	l := Layout(&m.Info, sel)
	l.Parts = storage.PartsName(m.InfoHash)
	st, err := storage.Open(s.opts.Dir, l)
	if err != nil {
		return fmt.Errorf("open data in %s: %w", s.opts.Dir, err)
	}
	if info == nil {
		info = m.InfoBytes
	}
	s.store, s.info = st, info
	s.sel.Store(sel)
	s.meta.Store(m)
	return nil
}

// choose is the files to fetch: -only and -skip; else the files chosen
// while an earlier run went on (SetFile), kept in the data directory; else
// a magnet link's so= (BEP 53); else all.
func (s *Session) choose(info *metainfo.Info) (*selection.Selection, error) {
	saved := storage.SelectionPath(s.opts.Dir, s.infoHash)
	if len(s.opts.Only) > 0 || len(s.opts.Skip) > 0 {
		if err := os.Remove(saved); err == nil {
			s.log.Info("-only and -skip replace the file choices of an earlier run")
		}
		return selection.New(info, s.opts.Only, s.opts.Skip)
	}
	if b, err := os.ReadFile(saved); err == nil {
		sel, err := selection.Unmarshal(info, b)
		if err == nil {
			s.log.Info("file choices of an earlier run restored (-only or -skip choose anew)", "from", saved)
			return sel, nil
		}
		s.log.Warn("ignoring saved file choices", "file", saved, "error", err)
	}
	if s.magnet == nil || len(s.magnet.Select) == 0 {
		return nil, nil
	}
	return selection.Indices(info, s.magnet.Selected)
}

// Sel is the files chosen (-only, -skip); nil for all of them, and
// before the metadata is known.
func (s *Session) Sel() *selection.Selection {
	if s.Meta() == nil {
		return nil
	}
	return s.sel.Load()
}

// Meta is the torrent; nil while a magnet link's metadata is being
// fetched (MetadataStatus says how far that is).
func (s *Session) Meta() *metainfo.MetaInfo { return s.meta.Load() }

// InfoHash is the torrent's v1 info-hash, known from the start.
func (s *Session) InfoHash() [20]byte { return s.infoHash }

// Name is the torrent's name; before the metadata of a magnet link, its
// dn, else the info-hash in hex.
func (s *Session) Name() string {
	if m := s.Meta(); m != nil {
		return m.Info.Name
	}
	if s.magnet != nil && s.magnet.Name != "" {
		return s.magnet.Name
	}
	return fmt.Sprintf("%x", s.infoHash)
}

// Layout is the storage layout of a torrent; sel may be nil (every file).
func Layout(info *metainfo.Info, sel *selection.Selection) storage.Layout {
	l := storage.Layout{PieceLength: info.PieceLength, Hashes: info.Pieces}
	for _, f := range info.Extents {
		l.Files = append(l.Files, storage.File{Path: info.RelPath(f), Length: f.Length, Pad: f.Pad, Skip: sel.Skips(info, f)})
	}
	return l
}

// Dir is the data directory.
func (s *Session) Dir() string { return s.opts.Dir }

// Stats is the swarm's latest snapshot (zero until Run has started it,
// and all zero while the metadata is unknown: check Meta first).
func (s *Session) Stats() swarm.Stats {
	if sw := s.swarm.Load(); sw != nil {
		return sw.Stats()
	}
	m := s.Meta()
	if m == nil {
		return swarm.Stats{}
	}
	n := m.Info.NumPieces()
	have := bitfield.New(n)
	if h := s.checked.Load(); h != nil {
		have = *h
	}
	sel := s.Sel()
	missing := sel.Missing(have)
	return swarm.Stats{Have: have, NumPieces: n, Wanted: sel.Pieces(n), Missing: missing, Complete: s.checked.Load() != nil && missing == 0}
}

// Tracker is the announcer's status, if there is a tracker.
func (s *Session) Tracker() (tracker.Status, bool) {
	if a := s.ann.Load(); a != nil {
		return a.Status(), true
	}
	return tracker.Status{}, false
}

// Trackers is every tracker of the torrent with its status, in the
// torrent's order; before the announcer runs, with no status yet.
func (s *Session) Trackers() []tracker.Status {
	if a := s.ann.Load(); a != nil {
		return a.Trackers()
	}
	var out []tracker.Status
	for i, tier := range s.TrackerTiers() {
		for _, u := range tier {
			out = append(out, tracker.Status{URL: tracker.Redact(u), Tier: i})
		}
	}
	return out
}

// Picker is the picker's status.
func (s *Session) Picker() (pick.Status, bool) {
	if p := s.picker.Load(); p != nil {
		return p.Status(), true
	}
	return pick.Status{}, false
}

// check verifies the data on disk and prepares the files; ok is false
// when the session is to end there (ctx ended, or err). Pieces the resume
// file vouches for, in files unchanged since, are trusted (storage.Check).
func (s *Session) check(ctx context.Context) (have bitfield.Bitfield, ok bool, err error) {
	s.resume = s.loadResume()
	rec := s.resume
	if s.opts.FullCheck {
		rec = nil
	} else if rec != nil {
		if err := s.store.Fits(rec); err != nil {
			s.log.Warn("ignoring resume state; the data on disk is checked instead", "error", err)
			rec = nil
		}
	}
	t0 := time.Now()
	have, cs, err := s.store.Check(ctx, rec, func(done, total int) {
		s.checks.Store(int64(done))
		if s.opts.Checking != nil {
			s.opts.Checking(done, total)
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return have, false, nil
		}
		return have, false, fmt.Errorf("check data: %w", err)
	}
	n := s.Meta().Info.NumPieces()
	s.log.Info("checked data on disk", "pieces", have.Count(), "of", n, "hashed", cs.Hashed, "trusted", cs.Trusted, "took", time.Since(t0).Round(time.Millisecond))
	s.checks.Store(int64(n))
	s.checked.Store(&have)
	if err := s.store.CreateEmpty(); err != nil {
		return have, false, err
	}
	// Saved now, the resume file is there before any piece is written: a
	// disk that fills up later may refuse newer saves, but the last good
	// file is only ever replaced whole (storage.SaveResume).
	s.saveResume(have, 0, 0)
	return have, true, nil
}

// Run fetches a magnet link's metadata if it is not known yet (see
// FetchMetadata), checks the data on disk, then downloads and seeds until
// ctx ends (or, without Seed, until complete). It saves the resume state
// on the way out.
func (s *Session) Run(ctx context.Context) error {
	var readyOnce sync.Once
	markReady := func() { readyOnce.Do(func() { close(s.ready) }) }
	defer markReady()
	defer s.sources.stop()
	defer s.adoptions.close() // those no swarm took: metadata only, or no download
	if err := s.FetchMetadata(ctx); err != nil || s.Meta() == nil || s.opts.MetadataOnly {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer s.store.Close()
	info := &s.Meta().Info
	have, ok, err := s.check(ctx)
	if !ok || (s.Sel().Missing(have) == 0 && !s.opts.Seed) {
		return err
	}
	pm := pick.Start(ctx, pick.Config{
		Spec:     s.opts.Picker,
		Reattach: s.opts.Reattach,
		Logger:   s.log.Named("picker"),
		Torrent:  sdk.Torrent{NumPieces: info.NumPieces(), PieceLength: info.PieceLength, TotalLength: info.Length},
		Have:     have,
		Wanted:   s.pickerWanted(info.NumPieces()),
	})
	defer pm.Close()
	s.picker.Store(pm)
	dhtPort, dhtNode := s.dhtPorts()
	sw := swarm.New(swarm.Config{
		InfoHash: s.infoHash, PeerID: s.peerID,
		NumPieces: info.NumPieces(), PieceLength: info.PieceLength, TotalLength: info.Length,
		Have: have, Wanted: s.Sel().Wanted(), Lazy: s.opts.Lazy, Mounted: s.opts.Mounted, Storage: s.store, Picker: pm, Listener: s.opts.Listener, Logger: s.log.Named("swarm"),
		UpRate: s.opts.UpRate, DownRate: s.opts.DownRate, Seed: s.opts.Seed,
		EncryptOutgoing: s.opts.EncryptOutgoing, MaxPeers: s.opts.MaxPeers, WebSeeds: s.webSeeds(),
		Banned: s.bans, Adopt: s.adoptions.take(), Info: s.info, Private: info.Private, NoPEX: s.opts.NoPEX, DHTPort: dhtPort, OnDHTPort: dhtNode,
	})
	s.swarm.Store(sw)
	s.applySelection(sw) // priorities, and a SetFile made since Sel was read
	markReady()
	s.started = time.Now()
	// The swarm takes over every peer source; what the metadata phase
	// learned is handed on.
	s.feed.attach(sw.AddPeersFrom)
	s.sources.start(ctx, s)
	if !have.Full() {
		s.sources.watch(sw.Done())
	}

	stopSaver := s.saveEvery(ctx, sw, 10*time.Second)
	stopLSD := s.startLSD(sw.AddPeersFrom)
	err = sw.Run(ctx, s.opts.Peers)
	stopLSD()
	stopSaver()
	if !have.Full() && closed(sw.Done()) {
		// Said before "stopped", even if the watch has not seen it yet.
		s.sources.complete()
	}
	s.sources.stop()
	st := sw.Stats()
	s.saveResume(st.Have, st.Uploaded, st.Downloaded)
	s.log.Info("session summary", "downloaded", st.Downloaded, "uploaded", st.Uploaded, "wasted", st.Wasted,
		"verified", st.Verified, "pieces", st.Have.Count(), "of", st.NumPieces)
	return err
}

// saveEvery writes the resume state periodically, so a SIGKILL loses at
// most a few seconds of bookkeeping (never data: the disk is re-checked).
func (s *Session) saveEvery(ctx context.Context, sw *swarm.Swarm, d time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		last := -1
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st := sw.Stats()
				// A save that failed (a full disk) is tried again next time.
				if n := st.Have.Count(); n != last && s.saveResume(st.Have, st.Uploaded, st.Downloaded) {
					last = n
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (s *Session) loadResume() *storage.Resume {
	r, err := storage.LoadResume(s.opts.Dir, s.infoHash)
	if err != nil {
		if !errors.Is(err, storage.ErrNoResume) {
			s.log.Warn("ignoring resume state; the data on disk is checked instead", "error", err)
		}
		return nil
	}
	return r
}

func (s *Session) saveResume(have interface{ Bytes() []byte }, up, down int64) bool {
	stamps, err := s.store.Durable(have.Bytes())
	if err != nil {
		s.log.Warn("syncing data to disk; the next start hashes those files", "error", err)
	}
	r := &storage.Resume{InfoHash: s.infoHash, Have: have.Bytes(), Uploaded: up, Downloaded: down, Files: stamps}
	if s.resume != nil {
		r.Uploaded += s.resume.Uploaded
		r.Downloaded += s.resume.Downloaded
	}
	if err := storage.SaveResume(s.opts.Dir, r); err != nil {
		s.log.Warn("saving resume state; the previous one is kept", "error", err)
		return false
	}
	return true
}
