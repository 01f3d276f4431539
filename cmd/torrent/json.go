package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/selection"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/tracker"
)

// jsonVersion is the "v" of every object -json prints (docs/json.md). It
// changes only when a field changes meaning or goes away; new fields and
// new event types keep it.
const jsonVersion = 1

// jsonHead starts every event.
type jsonHead struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Time string `json:"time"` // RFC 3339, UTC, milliseconds
}

type jsonFile struct {
	Path    string `json:"path"`
	Length  int64  `json:"length"`
	Offset  int64  `json:"offset"`
	Skipped bool   `json:"skipped,omitempty"` // not chosen (-only, -skip); start event only
	// Priority is high or low (SetFile); left out for normal. Start
	// event only.
	Priority string `json:"priority,omitempty"`
}

// jsonTorrent is the torrent as the start event and `info -json` show it.
type jsonTorrent struct {
	Name        string     `json:"name"`
	InfoHash    string     `json:"info_hash"`
	Length      int64      `json:"length"`
	PieceLength int64      `json:"piece_length"`
	Pieces      int        `json:"pieces"`
	Private     bool       `json:"private"`
	Files       []jsonFile `json:"files"`
}

func torrentJSON(m *metainfo.MetaInfo) jsonTorrent {
	i := &m.Info
	t := jsonTorrent{Name: i.Name, InfoHash: hex.EncodeToString(m.InfoHash[:]), Length: i.Length,
		PieceLength: i.PieceLength, Pieces: i.NumPieces(), Private: i.Private, Files: []jsonFile{}}
	for _, f := range i.Files {
		t.Files = append(t.Files, jsonFile{Path: i.RelPath(f), Length: f.Length, Offset: f.Offset})
	}
	return t
}

type (
	jsonStart struct {
		jsonHead
		Torrent jsonTorrent `json:"torrent"`
		Dir     string      `json:"dir"`
		Port    int         `json:"port"`
	}
	jsonProgress struct {
		jsonHead
		State      string `json:"state"` // checking, downloading, stalled, seeding
		Checked    int    `json:"checked"`
		PiecesDone int    `json:"pieces_done"`
		Pieces     int    `json:"pieces"`
		BytesDone  int64  `json:"bytes_done"` // verified bytes on disk
		Length     int64  `json:"length"`
		Downloaded int64  `json:"downloaded"` // payload this session
		Uploaded   int64  `json:"uploaded"`
		DownRate   int64  `json:"down_rate"` // bytes/s
		UpRate     int64  `json:"up_rate"`
		Peers      int    `json:"peers"`
		KnownPeers int    `json:"known_peers"`
		ETA        *int64 `json:"eta"`     // seconds; null when unknown
		Problem    string `json:"problem"` // what keeps it from going on ("disk full at ..."); "" when nothing does
		// Lazy is there only for a lazy run, as in status -json.
		Lazy *jsonLazy `json:"lazy,omitempty"`
	}
	// jsonMetadata is a magnet link's metadata phase, every second until
	// the torrent is known, then once with done.
	jsonMetadata struct {
		jsonHead
		InfoHash   string `json:"info_hash"`
		Name       string `json:"name"` // the link's dn until the metadata says
		Peers      int    `json:"peers"`
		KnownPeers int    `json:"known_peers"`
		PiecesDone int    `json:"pieces_done"` // metadata pieces, of 16 KiB
		Pieces     int    `json:"pieces"`      // 0 until a peer has told the size
		Done       bool   `json:"done"`
		File       string `json:"file,omitempty"` // -metadata-only: the .torrent written
	}
	jsonPeer struct {
		jsonHead
		Event  string `json:"event"` // connected, disconnected
		Addr   string `json:"addr"`
		Client string `json:"client"`
	}
	jsonTracker struct {
		jsonHead
		URL          string  `json:"url"`
		OK           bool    `json:"ok"`
		Reason       string  `json:"reason"`
		Peers        int     `json:"peers"`
		Seeders      int     `json:"seeders"`
		Leechers     int     `json:"leechers"`
		NextAnnounce *string `json:"next_announce"`
	}
	jsonLog struct {
		jsonHead
		Level   string `json:"level"`
		Message string `json:"message"`
	}
	jsonComplete struct {
		jsonHead
		Downloaded int64 `json:"downloaded"`
		Uploaded   int64 `json:"uploaded"`
		Seconds    int64 `json:"seconds"` // since the start event
	}
	jsonError struct {
		jsonHead
		Message string `json:"message"`
	}
	jsonStop struct {
		jsonHead
		Reason   string `json:"reason"` // complete, quit, signal, error
		Complete bool   `json:"complete"`
	}
)

// jsonSource is what progress comes from: a session.
type jsonSource interface {
	Stats() swarm.Stats
	Tracker() (tracker.Status, bool)
	Checking() (int, bool)
	Meta() *metainfo.MetaInfo // nil during a magnet link's metadata phase
	MetadataStatus() (session.MetadataStatus, bool)
	InfoHash() [20]byte
	Name() string
	Sel() *selection.Selection // the files chosen; nil: all
	LazyStats() (session.LazyStats, bool)
}

// jsonEvents writes the event stream; each object is one line.
type jsonEvents struct {
	mu       sync.Mutex
	w        io.Writer
	now      func() time.Time
	started  time.Time
	m        *metainfo.MetaInfo
	peers    map[string]string // connected: addr -> client
	tracker  tracker.Status    // as last reported
	reported bool              // a tracker event was written
	complete bool              // the complete event was written
	logSeq   int64
	logs     *hostapi.LogRing
	sel      *selection.Selection // the files chosen; nil: all
	// Where start is written from once a magnet link's metadata arrives.
	dir  string
	port int
	// metadataOnly: no start follows the metadata (-metadata-only).
	metadataOnly bool
	ended        bool // the last metadata event is written: only stop follows
}

func newJSONEvents(w io.Writer, m *metainfo.MetaInfo, logs *hostapi.LogRing) *jsonEvents {
	return &jsonEvents{w: w, now: time.Now, m: m, peers: map[string]string{}, logs: logs}
}

func (e *jsonEvents) head(typ string) jsonHead {
	return jsonHead{V: jsonVersion, Type: typ, Time: e.now().UTC().Format("2006-01-02T15:04:05.000Z07:00")}
}

// write encodes one event; a closed stdout is not the download's problem.
func (e *jsonEvents) write(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	e.w.Write(append(b, '\n'))
}

func (e *jsonEvents) start(dir string, port int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writeStart(dir, port)
}

func (e *jsonEvents) writeStart(dir string, port int) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	e.started = e.now()
	t := torrentJSON(e.m)
	for i, f := range e.m.Info.Files {
		t.Files[i].Skipped = e.sel.Skips(&e.m.Info, f)
		t.Files[i].Priority = priorityJSON(e.sel, &e.m.Info, f)
	}
	e.write(jsonStart{jsonHead: e.head("start"), Torrent: t, Dir: dir, Port: port})
}

// metadataEvent is the metadata phase as it is now.
func (e *jsonEvents) metadataEvent(src jsonSource, done bool, file string) jsonMetadata {
	ms, _ := src.MetadataStatus()
	ih := src.InfoHash()
	ev := jsonMetadata{jsonHead: e.head("metadata"), InfoHash: hex.EncodeToString(ih[:]), Name: src.Name(),
		Peers: ms.Peers, KnownPeers: ms.Known, PiecesDone: ms.Have, Pieces: ms.Total, Done: done, File: file}
	if done {
		// The phase's counts are gone with it; all pieces arrived.
		ev.PiecesDone, ev.Pieces = 0, 0
	}
	return ev
}

// metadataDone writes the last metadata event of -metadata-only, with the
// .torrent file written.
func (e *jsonEvents) metadataDone(src jsonSource, file string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logLines()
	if tr, ok := src.Tracker(); ok {
		e.trackerEvent(tr)
	}
	e.write(e.metadataEvent(src, true, file))
	e.ended = true
}

// tick writes what changed since the last one, then the progress; during
// a magnet link's metadata phase, a metadata event instead, and start
// once the torrent is known.
func (e *jsonEvents) tick(src jsonSource) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ended {
		return
	}
	if e.m == nil {
		m := src.Meta()
		if m == nil || e.metadataOnly {
			e.logLines()
			if tr, ok := src.Tracker(); ok {
				e.trackerEvent(tr)
			}
			if m == nil {
				e.write(e.metadataEvent(src, false, ""))
			}
			return
		}
		e.write(e.metadataEvent(src, true, ""))
		e.m, e.sel = m, src.Sel()
		e.writeStart(e.dir, e.port)
	}
	st := src.Stats()
	checked, checkDone := src.Checking()
	e.logLines()
	if tr, ok := src.Tracker(); ok {
		e.trackerEvent(tr)
	}
	e.peerEvents(st.Peers)
	e.filesEvent(src)
	p := e.progress(st, checked, checkDone)
	if l, ok := src.LazyStats(); ok {
		p.Lazy = &jsonLazy{Read: l.Read, Asked: l.Asked, Fetched: st.Verified}
	}
	e.write(p)
	if checkDone && st.Missing == 0 && !e.complete {
		e.complete = true
		e.write(jsonComplete{jsonHead: e.head("complete"), Downloaded: st.Downloaded, Uploaded: st.Uploaded,
			Seconds: int64(e.now().Sub(e.started) / time.Second)})
	}
}

func (e *jsonEvents) progress(st swarm.Stats, checked int, checkDone bool) jsonProgress {
	info := &e.m.Info
	pieces := info.NumPieces()
	if st.Wanted.Len() > 0 {
		pieces = st.Wanted.Count() // only some files are chosen
	}
	p := jsonProgress{jsonHead: e.head("progress"), Checked: checked, PiecesDone: pieces - st.Missing, Pieces: pieces,
		Length: info.Length, Downloaded: st.Downloaded, Uploaded: st.Uploaded, DownRate: st.DownRate,
		UpRate: st.UpRate, Peers: len(st.Peers), KnownPeers: st.Known, Problem: st.Status}
	if st.Have.Len() > 0 {
		p.BytesDone = verifiedBytes(st, info)
	}
	if st.Wanted.Len() > 0 && st.Have.Len() > 0 {
		p.BytesDone, p.Length = st.Progress(info.PieceSize)
	}
	if !checkDone {
		p.PiecesDone, p.BytesDone = 0, 0
	}
	p.State, p.ETA = progressState(checkDone, st.Missing, p.Length-p.BytesDone, st.DownRate)
	if st.Lazy && p.State != "checking" && st.Missing > 0 {
		p.State, p.ETA = "lazy", nil // it fetches what is read, and ends never
	}
	return p
}

// progressState is the state of a download and its ETA in seconds (nil
// when unknown) from bytes left and the download rate.
func progressState(checkDone bool, missing int, left, rate int64) (string, *int64) {
	switch {
	case !checkDone:
		return "checking", nil
	case missing == 0:
		return "seeding", new(int64)
	case rate > 0:
		eta := (left + rate - 1) / rate
		return "downloading", &eta
	}
	return "stalled", nil
}

// verifiedBytes counts the bytes of verified pieces (the last is short).
func verifiedBytes(st swarm.Stats, info *metainfo.Info) int64 {
	n := int64(st.Have.Count()) * info.PieceLength
	if last := info.NumPieces() - 1; last >= 0 && st.Have.Has(last) {
		n -= int64(info.NumPieces())*info.PieceLength - info.Length
	}
	return n
}

func (e *jsonEvents) peerEvents(peers []swarm.PeerStats) {
	now := map[string]string{}
	for _, p := range peers {
		now[p.Addr] = p.Client
	}
	var gone, came []string
	for a := range e.peers {
		if _, ok := now[a]; !ok {
			gone = append(gone, a)
		}
	}
	for a := range now {
		if _, ok := e.peers[a]; !ok {
			came = append(came, a)
		}
	}
	sort.Strings(gone)
	sort.Strings(came)
	for _, a := range gone {
		e.write(jsonPeer{jsonHead: e.head("peer"), Event: "disconnected", Addr: a, Client: e.peers[a]})
	}
	for _, a := range came {
		e.write(jsonPeer{jsonHead: e.head("peer"), Event: "connected", Addr: a, Client: now[a]})
	}
	e.peers = now
}

// trackerEvent reports each announce's outcome once.
func (e *jsonEvents) trackerEvent(tr tracker.Status) {
	if tr.LastAnnounce.IsZero() && tr.LastError == "" {
		return // nothing has happened yet
	}
	if e.reported && tr == e.tracker {
		return
	}
	e.reported, e.tracker = true, tr
	ev := jsonTracker{jsonHead: e.head("tracker"), URL: tr.URL, OK: tr.LastError == "", Reason: tr.LastError,
		Peers: tr.Peers, Seeders: tr.Seeders, Leechers: tr.Leechers}
	if !tr.NextAnnounce.IsZero() {
		s := tr.NextAnnounce.UTC().Format(time.RFC3339)
		ev.NextAnnounce = &s
	}
	e.write(ev)
}

// logLines passes on warnings and errors of the log.
func (e *jsonEvents) logLines() {
	if e.logs == nil {
		return
	}
	var lines []hostapi.Line
	lines, e.logSeq = e.logs.Since(e.logSeq)
	for _, l := range lines {
		if l.Level != "WARN" && l.Level != "ERROR" {
			continue
		}
		msg := l.Text
		if _, rest, ok := strings.Cut(msg, "] "); ok {
			msg = strings.TrimSpace(rest)
		}
		e.write(jsonLog{jsonHead: e.head("log"), Level: strings.ToLower(l.Level), Message: msg})
	}
}

func (e *jsonEvents) fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.write(jsonError{jsonHead: e.head("error"), Message: err.Error()})
}

func (e *jsonEvents) stop(reason string, complete bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.write(jsonStop{jsonHead: e.head("stop"), Reason: reason, Complete: complete})
}

// begin writes the start event (for a magnet link, once its metadata is
// known) and then a tick every interval until the returned func, which
// writes a last one.
func (e *jsonEvents) begin(logs *hostapi.LogRing, src jsonSource, dir string, port int) (end func()) {
	m := src.Meta()
	e.mu.Lock()
	e.m, e.logs, e.dir, e.port, e.sel = m, logs, dir, port, src.Sel()
	e.mu.Unlock()
	if m != nil {
		e.start(dir, port)
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(jsonInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				e.tick(src)
				return
			case <-t.C:
				e.tick(src)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// jsonInterval is how often progress is written.
const jsonInterval = time.Second

// finish writes the error, if any, and the stop event.
func (e *jsonEvents) finish(err error, signalled, seed, complete bool) {
	reason := "quit"
	switch {
	case err != nil:
		e.fail(err)
		reason = "error"
	case signalled:
		reason = "signal"
	case complete && !seed:
		reason = "complete"
	}
	e.stop(reason, complete)
}

// jsonInfo is `torrent info -json`.
type jsonInfo struct {
	V int `json:"v"`
	jsonTorrent
	Comment      string     `json:"comment"`
	CreatedBy    string     `json:"created_by"`
	CreationDate *string    `json:"creation_date"` // RFC 3339; null if absent
	Trackers     [][]string `json:"trackers"`      // tiers
	// TrackerList is every announce URL, with those it cannot use.
	TrackerList []jsonTrackerURL `json:"tracker_list"`
	Source      string           `json:"source"`
	Magnet      string           `json:"magnet"`
	WebSeeds    []string         `json:"web_seeds"` // usable url-list entries (BEP 19)
}

type jsonTrackerURL struct {
	URL    string `json:"url"`
	Tier   int    `json:"tier"`
	Usable bool   `json:"usable"`
}

func infoJSON(w io.Writer, m *metainfo.MetaInfo) error {
	out := jsonInfo{V: jsonVersion, jsonTorrent: torrentJSON(m), Comment: m.Comment, CreatedBy: m.CreatedBy, Trackers: m.Trackers(),
		TrackerList: []jsonTrackerURL{}, Source: m.Info.Source, Magnet: magnetLink(m)}
	for _, t := range m.AllTrackers() {
		out.TrackerList = append(out.TrackerList, jsonTrackerURL{t.URL, t.Tier, t.Usable})
	}
	if out.Trackers == nil {
		out.Trackers = [][]string{}
	}
	if out.WebSeeds = m.WebSeeds(); out.WebSeeds == nil {
		out.WebSeeds = []string{}
	}
	if m.CreationDate != 0 {
		d := time.Unix(m.CreationDate, 0).UTC().Format(time.RFC3339)
		out.CreationDate = &d
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // the magnet link's & as is
	return enc.Encode(out)
}
