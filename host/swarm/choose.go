package swarm

import (
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Selection is the pieces the user wants now and their priorities, as
// SetSelection takes it: a file chosen or skipped, or its priority
// changed, while the torrent runs.
type Selection struct {
	// Wanted is the pieces of the chosen files; the zero Bitfield means
	// every piece. Pieces readers wait for stay wanted whatever it says.
	Wanted bitfield.Bitfield
	// High pieces are started before any other new piece; Low ones only
	// when this peer has no other piece we need. Zero Bitfields: none.
	High, Low bitfield.Bitfield
}

// SetSelection replaces what is wanted and how urgently. Pieces no longer
// wanted are not requested any more (pieces with nothing received yet are
// given up; verified ones stay on disk); pieces newly wanted are fetched.
// Safe from any goroutine; only the newest selection matters.
func (s *Swarm) SetSelection(sel Selection) {
	for {
		select {
		case s.selCh <- sel:
			return
		default:
		}
		select {
		case <-s.selCh: // drop the older one
		default:
		}
	}
}

// applySelection is SetSelection in the run loop. It reports whether the
// download is now complete.
func (s *Swarm) applySelection(sel Selection) bool {
	d := s.dl
	d.setSelection(sel)
	s.publishStats()
	if d.complete() {
		s.complete()
		return true
	}
	return false
}

// setSelection: see SetSelection.
func (d *downloader) setSelection(sel Selection) {
	n := d.pieces.numPieces
	w := sel.Wanted
	if w.Len() != n {
		w = bitfield.New(n)
		w.SetAll()
	} else {
		w = w.Clone()
	}
	d.high, d.low = bitfield.Bitfield{}, bitfield.Bitfield{}
	if sel.High.Len() == n && sel.High.Count() > 0 {
		d.high = sel.High.Clone()
	}
	if sel.Low.Len() == n && sel.Low.Count() > 0 {
		d.low = sel.Low.Clone()
	}
	if d.lazy {
		// A lazy swarm fetches what is read: the selection is its goal,
		// not what it asks peers for now.
		d.goal, d.goalMissing = w, 0
		for i := range n {
			if w.Has(i) && !d.have.Has(i) {
				d.goalMissing++
			}
		}
		return
	}
	for _, i := range d.urgent {
		w.Set(i)
	}
	var touched []*dlPeer
	for i := range n {
		was, now := d.wanted.Has(i), w.Has(i)
		if was == now {
			continue
		}
		if now {
			d.wanted.Set(i)
		} else {
			d.wanted.Clear(i)
		}
		if d.have.Has(i) {
			continue
		}
		delta := 1
		if !now {
			delta = -1
			d.dropUnwanted(i)
		}
		d.missing += delta
		for _, p := range d.peers {
			if p.has.Has(i) {
				p.wanted += delta
				touched = append(touched, p)
			}
		}
	}
	for _, p := range touched {
		d.updateInterest(p)
	}
	d.refill()
}

// dropUnwanted gives up piece i, no longer wanted, if nothing of it has
// arrived: its requests are cancelled. A piece partly received is
// finished, so its bytes are not wasted.
func (d *downloader) dropUnwanted(i int) {
	ps := d.pieces.active[i]
	if ps == nil || ps.nGot > 0 {
		return
	}
	for _, p := range d.peers {
		var b []byte
		for key := range p.inflight {
			if int(key>>32) == i {
				b = appendCancel(b, key, d.pieces.geometry)
				d.pieces.release(p, key) // the last release frees the piece
			}
		}
		if len(b) > 0 {
			p.out.send(b)
		}
	}
	if d.pieces.active[i] == ps { // never requested at all
		d.pieces.finish(ps)
		d.pieces.recycle(ps.buf)
	}
}

// highPiece starts the first high-priority piece p can fetch, or is nil.
func (d *downloader) highPiece(p *dlPeer) *pieceState {
	if d.high.Len() == 0 {
		return nil
	}
	for i := range d.pieces.numPieces {
		if d.high.Has(i) && d.usable(p, i) {
			return d.startPiece(p, i)
		}
	}
	return nil
}

// later says the picker's pick i is of low priority and keeps it for when
// p has nothing else for us (lowPiece).
func (d *downloader) later(p *dlPeer, i int) bool {
	if !d.low.Has(i) {
		return false
	}
	if len(p.lowPicks) < picksWanted { // beyond that lowPiece finds them anyway
		p.lowPicks = append(p.lowPicks, i)
	}
	return true
}

// lowPiece starts a low-priority piece p has: one the picker ranked, else
// any.
func (d *downloader) lowPiece(p *dlPeer) *pieceState {
	if d.low.Len() == 0 {
		return nil
	}
	for len(p.lowPicks) > 0 {
		i := p.lowPicks[0]
		p.lowPicks = p.lowPicks[1:]
		if d.usable(p, i) {
			return d.startPiece(p, i)
		}
	}
	for i := range d.pieces.numPieces {
		if d.low.Has(i) && d.usable(p, i) {
			return d.startPiece(p, i)
		}
	}
	return nil
}
