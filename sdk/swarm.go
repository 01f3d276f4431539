package sdk

import (
	"fmt"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Swarm is the picker's view of the torrent and its peers, kept up to date
// from the host's batches. Availability is maintained incrementally, so
// every query is O(1).
type Swarm struct {
	t       Torrent
	have    bitfield.Bitfield
	missing int
	avail   []int32
	started bitfield.Bitfield
	urgent  []int
	peers   map[PeerID]bitfield.Bitfield
	wanted  bitfield.Bitfield // zero: every piece
}

// NewSwarm returns the view of a snapshot.
func NewSwarm(s Snapshot) (*Swarm, error) {
	w := &Swarm{}
	if err := w.Reset(s); err != nil {
		return nil, err
	}
	return w, nil
}

// Reset replaces the whole view with a snapshot.
func (w *Swarm) Reset(s Snapshot) error {
	n := s.Torrent.NumPieces
	if n < 0 || s.Torrent.PieceLength <= 0 {
		return fmt.Errorf("torrent of %d pieces of %d bytes", n, s.Torrent.PieceLength)
	}
	if s.Have.Len() != n {
		return fmt.Errorf("have bitfield of %d pieces for %d", s.Have.Len(), n)
	}
	if s.Wanted.Len() != 0 && s.Wanted.Len() != n {
		return fmt.Errorf("wanted bitfield of %d pieces for %d", s.Wanted.Len(), n)
	}
	*w = Swarm{t: s.Torrent, have: s.Have.Clone(), avail: make([]int32, n), started: bitfield.New(n), peers: map[PeerID]bitfield.Bitfield{}}
	if s.Wanted.Len() != 0 {
		w.wanted = s.Wanted.Clone()
	}
	w.missing = n - w.have.Count()
	for _, i := range s.Started {
		w.started.Set(i)
	}
	if err := w.setUrgent(s.Urgent); err != nil {
		return err
	}
	for id, bf := range s.Peers {
		if err := w.Apply(PeerJoined{Peer: id, Have: bf}); err != nil {
			return err
		}
	}
	return nil
}

func (w *Swarm) checkPiece(i int) error {
	if i < 0 || i >= w.t.NumPieces {
		return fmt.Errorf("piece %d out of range (%d pieces)", i, w.t.NumPieces)
	}
	return nil
}

func (w *Swarm) setUrgent(p []int) error {
	for _, i := range p {
		if err := w.checkPiece(i); err != nil {
			return fmt.Errorf("urgent: %w", err)
		}
	}
	w.urgent = append(w.urgent[:0], p...)
	return nil
}

// Apply applies one event; an event that does not fit the torrent is an
// error and changes nothing.
func (w *Swarm) Apply(e Event) error {
	switch e := e.(type) {
	case PeerJoined:
		if e.Have.Len() != w.t.NumPieces {
			return fmt.Errorf("peer %d: bitfield of %d pieces for %d", e.Peer, e.Have.Len(), w.t.NumPieces)
		}
		w.removePeer(e.Peer)
		bf := e.Have.Clone()
		for i := range w.t.NumPieces {
			if bf.Has(i) {
				w.avail[i]++
			}
		}
		w.peers[e.Peer] = bf
	case PeerLeft:
		w.removePeer(e.Peer)
	case PeerHave:
		if err := w.checkPiece(e.Piece); err != nil {
			return err
		}
		bf, ok := w.peers[e.Peer]
		if !ok {
			return fmt.Errorf("have from unknown peer %d", e.Peer)
		}
		if !bf.Has(e.Piece) {
			bf.Set(e.Piece)
			w.avail[e.Piece]++
		}
	case PieceStarted:
		if err := w.checkPiece(e.Piece); err != nil {
			return err
		}
		w.started.Set(e.Piece)
	case PieceDone:
		if err := w.checkPiece(e.Piece); err != nil {
			return err
		}
		if !w.have.Has(e.Piece) {
			w.have.Set(e.Piece)
			w.missing--
		}
		w.started.Clear(e.Piece)
	case PieceFailed:
		if err := w.checkPiece(e.Piece); err != nil {
			return err
		}
		w.started.Clear(e.Piece)
		if w.have.Has(e.Piece) { // verified once, found changed on disk since
			w.have.Clear(e.Piece)
			w.missing++
		}
	case UrgentSet:
		return w.setUrgent(e.Pieces)
	default:
		return fmt.Errorf("unknown event %T", e)
	}
	return nil
}

func (w *Swarm) removePeer(id PeerID) {
	bf, ok := w.peers[id]
	if !ok {
		return
	}
	for i := range w.t.NumPieces {
		if bf.Has(i) {
			w.avail[i]--
		}
	}
	delete(w.peers, id)
}

// Torrent is the torrent's shape.
func (w *Swarm) Torrent() Torrent { return w.t }

// Have reports whether piece i is verified.
func (w *Swarm) Have(i int) bool { return w.have.Has(i) }

// Wanted reports whether the user wants piece i: it holds bytes of a file
// chosen. A picker ranks no other piece, unless it is urgent.
func (w *Swarm) Wanted(i int) bool {
	return w.wanted.Len() == 0 && i >= 0 && i < w.t.NumPieces || w.wanted.Has(i)
}

// Missing is the number of pieces not yet verified.
func (w *Swarm) Missing() int { return w.missing }

// Availability is how many connected peers have piece i.
func (w *Swarm) Availability(i int) int {
	if i < 0 || i >= len(w.avail) {
		return 0
	}
	return int(w.avail[i])
}

// Started reports whether some blocks of piece i have arrived.
func (w *Swarm) Started(i int) bool { return w.started.Has(i) }

// Urgent lists the pieces readers wait for, most urgent first; the caller
// must not modify it.
func (w *Swarm) Urgent() []int { return w.urgent }

// PeerHas reports whether peer has piece i.
func (w *Swarm) PeerHas(peer PeerID, i int) bool { return w.peers[peer].Has(i) }

// Connected reports whether peer is connected.
func (w *Swarm) Connected(peer PeerID) bool { _, ok := w.peers[peer]; return ok }

// Peers lists the connected peers.
func (w *Swarm) Peers() []PeerID {
	ids := make([]PeerID, 0, len(w.peers))
	for id := range w.peers {
		ids = append(ids, id)
	}
	return ids
}

// Snapshot returns the whole view, for a picker that (re)starts.
func (w *Swarm) Snapshot() Snapshot {
	s := Snapshot{Torrent: w.t, Have: w.have.Clone(), Urgent: append([]int(nil), w.urgent...), Peers: make(map[PeerID]bitfield.Bitfield, len(w.peers)), Wanted: w.wanted.Clone()}
	for i := range w.t.NumPieces {
		if w.started.Has(i) {
			s.Started = append(s.Started, i)
		}
	}
	for id, bf := range w.peers {
		s.Peers[id] = bf.Clone()
	}
	return s
}
