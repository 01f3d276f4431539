package swarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/sdk"
)

// Data can change under a running seed: another program truncates, deletes
// or overwrites a file. The swarm notices in three ways:
//
//   - Every piece read for upload is hashed before any block of it is sent
//     (upCache: one read and hash serves every peer while the piece stays
//     cached; a write to the piece or a failed check drops it). Checking the file's size and mtime instead would be
//     cheaper, but not sure: a write that keeps both, or lands between the
//     check and the read, would go out unnoticed. Hashing the very bytes
//     about to be sent cannot be fooled, and SHA-1 runs at about 2 GB/s a
//     core here: some 5% of a core at 100 MB/s of upload, nothing at the
//     default 24 kB/s.
//   - A piece that fails that check or cannot be read is lost: it is marked
//     missing and fetched again, and the other pieces of its files are
//     hashed again in the background, since what spoilt one may have
//     spoilt them.
//   - Every scanEvery, storage says which files changed since it last
//     opened or wrote them (gone, replaced, resized, mtime moved); their
//     pieces are hashed again the same way. So a deleted file is noticed,
//     and created again, even when no peer asks for its pieces.

// scanEvery is how often the files are checked for changes (a stat each).
const scanEvery = 5 * time.Second

// changeWatcher is storage that can tell which of its files changed
// (storage.Storage); the swarm works without it, with the upload check only.
type changeWatcher interface {
	Changed() []int
	FilePieces(i int) []int
}

// errChangedOnDisk: a piece read back from disk no longer hashes right.
var errChangedOnDisk = errors.New("data on disk no longer matches the torrent")

// diskCheck queues pieces to hash again and collects the ones found bad.
// Its goroutine (run) and the peers' writers (bad) use it; the run loop
// takes the bad pieces.
type diskCheck struct {
	data   pieceData
	cache  *upCache             // pieces found bad are dropped from it
	watch  changeWatcher        // nil if storage cannot tell
	has    func(piece int) bool // verified, as published
	log    hclog.Logger
	mu     sync.Mutex
	queue  []int
	queued map[int]bool
	lost   []int
	wake   chan struct{} // work was queued
	ready  chan struct{} // lost pieces wait for the run loop
}

func newDiskCheck(data pieceData, cache *upCache, has func(int) bool, log hclog.Logger) *diskCheck {
	w, _ := data.st.(changeWatcher)
	return &diskCheck{data: data, cache: cache, watch: w, has: has, log: log, queued: map[int]bool{},
		wake: make(chan struct{}, 1), ready: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// check queues pieces to be hashed again.
func (d *diskCheck) check(pieces []int) {
	if len(pieces) == 0 {
		return
	}
	d.mu.Lock()
	for _, i := range pieces {
		if !d.queued[i] {
			d.queued[i] = true
			d.queue = append(d.queue, i)
		}
	}
	d.mu.Unlock()
	signal(d.wake)
}

func (d *diskCheck) next() (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queue) == 0 {
		return 0, false
	}
	i := d.queue[0]
	d.queue = d.queue[1:]
	delete(d.queued, i)
	return i, true
}

// lose reports piece i bad on disk.
func (d *diskCheck) lose(i int) {
	d.cache.invalidate(i)
	d.mu.Lock()
	d.lost = append(d.lost, i)
	d.mu.Unlock()
	signal(d.ready)
}

func (d *diskCheck) take() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.lost
	d.lost = nil
	return l
}

// bad is called off the loop when piece i could not be served: it is
// lost, and the rest of its files is checked.
func (d *diskCheck) bad(i int, err error) {
	d.log.Debug("piece unusable on disk", "piece", i, "error", err)
	d.lose(i)
	if d.watch != nil {
		d.check(d.watch.FilePieces(i))
	}
}

// run hashes queued pieces again, and every scanEvery queues the pieces of
// files storage saw change.
func (d *diskCheck) run(ctx context.Context) {
	t := time.NewTicker(scanEvery)
	defer t.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d.watch != nil {
				d.check(d.watch.Changed())
			}
		case <-d.wake:
		}
		for i, ok := d.next(); ok && ctx.Err() == nil; i, ok = d.next() {
			if !d.has(i) {
				continue // not ours (yet): nothing to lose
			}
			if err := d.data.readPiece(&buf, i); err != nil {
				d.log.Debug("piece changed on disk", "piece", i, "error", err)
				d.lose(i)
			}
		}
	}
}

// pieceData is the torrent's data on disk as pieces; any goroutine may
// use it (Storage is safe for concurrent use).
type pieceData struct {
	geo geometry
	st  Storage
}

// readPiece reads piece i into *buf and checks its hash.
func (pd pieceData) readPiece(buf *[]byte, i int) error {
	n := pd.geo.size(i)
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n)
	}
	*buf = (*buf)[:n]
	if _, err := pd.st.ReadAt(*buf, pd.geo.offset(i)); err != nil {
		return err
	}
	if !pd.st.CheckPiece(i, *buf) {
		return errChangedOnDisk
	}
	return nil
}

// lostPieces marks pieces found bad on disk as missing, to be fetched
// again; peers that have them become interesting again.
func (s *Swarm) lostPieces(pieces []int) {
	var lost []int
	for _, i := range pieces {
		if !s.dl.pieceLost(i) {
			continue
		}
		lost = append(lost, i)
		s.published.clearHave(i)
		s.counters.lost++
		s.picker.post(sdk.PieceFailed{Piece: i})
	}
	if len(lost) > 0 {
		s.log.Warn("data changed on disk: fetching those pieces again", "pieces", len(lost), "first", fmt.Sprint(lost[:min(len(lost), 8)]))
	}
}
