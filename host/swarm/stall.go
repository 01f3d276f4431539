package swarm

import (
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
)

// When the disk refuses a write (full, over quota, failing) the download
// stalls instead of ending: no new blocks are requested, pieces already on
// the way are still taken in, every verified piece stays on disk and is
// still served to peers, and the writes are retried until the disk takes
// them again.
//
// A piece that verified but could not be written keeps its buffer and is
// written again later; it is never fetched again. Those buffers stay in
// pieceTable.verifying, so they count against the piece memory budget like
// any piece in flight, and since nothing new starts during a stall, at most
// a budget's worth (16 MiB, or 4 pieces) is held. Dropping them instead
// would cost the network the same bytes again, and the peer that had them
// may be gone by the time the disk has room.

// retryGap is how often a stalled swarm tries its writes again: well
// within the 10 s in which it should notice that space came back.
const retryGap = 2 * time.Second

// stall is the swarm's state while the disk refuses writes.
type stall struct {
	err     error         // the latest refusal; nil while writes work
	status  string        // a short line for the UI: "disk full at /x: retrying"
	since   time.Time     // when the stall began
	waiting []*pieceState // verified but not written
	writing int           // of those, handed to the verifier for another try
	next    time.Time     // the next try

	// What a stall starts and ends: the downloader pauses, the verifier
	// writes again, the UI is told at once.
	log     hclog.Logger
	dl      *downloader
	v       *verifier
	publish func()
}

func (st *stall) active() bool { return st.err != nil }

// statusError is a storage error that can say what is wrong in a few
// words (storage.WriteError).
type statusError interface{ Status() string }

// writeFailed keeps a verified piece the disk would not take, for retry.
func (st *stall) writeFailed(ps *pieceState, err error) {
	if ps.hashed {
		st.writing--
	}
	ps.hashed = true // verified: a retry only writes it
	st.waiting = append(st.waiting, ps)
	first := !st.active()
	st.err = err
	st.dl.paused = true
	if !first {
		return
	}
	st.since = time.Now()
	st.next = st.since.Add(retryGap)
	what := err.Error()
	var se statusError
	if errors.As(err, &se) {
		what = se.Status()
	}
	st.status = what + ": retrying"
	st.log.Warn(what+": downloading paused, seeding goes on; retrying every "+retryGap.String(), "error", err)
	st.publish()
}

// wrote notes a successful write of ps; a retried write that leaves
// nothing waiting ends the stall.
func (st *stall) wrote(ps *pieceState) {
	if !ps.hashed {
		return
	}
	st.writing--
	if !st.active() || st.writing > 0 || len(st.waiting) > 0 {
		return
	}
	st.log.Info("the disk takes writes again: downloading resumes", "stalled", time.Since(st.since).Round(time.Second))
	st.err, st.status, st.since, st.waiting, st.writing, st.next = nil, "", time.Time{}, nil, 0, time.Time{}
	st.dl.paused = false
	st.dl.refill()
}

// retryWrites hands the waiting pieces to the verifier to write again.
func (st *stall) retryWrites(now time.Time) {
	if !st.active() || st.writing > 0 || now.Before(st.next) {
		return
	}
	st.next = now.Add(retryGap)
	for _, ps := range st.waiting {
		st.v.add(ps)
	}
	st.writing, st.waiting = len(st.waiting), nil
}
