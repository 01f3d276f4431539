package sdk

import (
	"context"

	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// Pickers. The host sends batches of state changes and asks for ranked
// piece lists for peers whose request queues run low; it never waits for
// the answer (docs/writing-a-picker.md). The SDK keeps a Swarm view up to
// date from those batches, so a picker only ranks.

// PeerID names one peer connection for the life of a host; the host never
// reuses one.
type PeerID uint64

// Torrent is the fixed shape of the torrent being downloaded.
type Torrent struct {
	NumPieces   int
	PieceLength int64
	TotalLength int64
}

// Snapshot is the complete state the host sends when a picker (re)starts,
// and in a new session when the files chosen (Wanted) change.
type Snapshot struct {
	Torrent Torrent
	Have    bitfield.Bitfield            // verified pieces
	Started []int                        // pieces with some blocks received
	Urgent  []int                        // pieces a reader waits for, most urgent first
	Peers   map[PeerID]bitfield.Bitfield // connected peers and what they have
	// Wanted is the pieces the user wants (they hold bytes of the files
	// chosen); the zero Bitfield means every piece. A picker ranks no
	// other piece, except an urgent one.
	Wanted bitfield.Bitfield
}

// Event is one state change; the concrete types below are the only ones.
type Event interface{ isEvent() }

// PeerJoined: a peer connected (or sent its bitfield); Have replaces what
// the picker knew of it.
type PeerJoined struct {
	Peer PeerID
	Have bitfield.Bitfield
}

// PeerLeft: a peer disconnected.
type PeerLeft struct{ Peer PeerID }

// PeerHave: a peer announced one more piece.
type PeerHave struct {
	Peer  PeerID
	Piece int
}

// PieceStarted: the first block of a piece arrived.
type PieceStarted struct{ Piece int }

// PieceDone: a piece was verified and written.
type PieceDone struct{ Piece int }

// PieceFailed: a piece failed its hash check and must be fetched again;
// also sent for a piece verified earlier that was found changed on disk.
type PieceFailed struct{ Piece int }

// UrgentSet replaces the set of urgent pieces (a torfs reader waits for
// them), most urgent first. An empty list clears it.
type UrgentSet struct{ Pieces []int }

func (PeerJoined) isEvent()   {}
func (PeerLeft) isEvent()     {}
func (PeerHave) isEvent()     {}
func (PieceStarted) isEvent() {}
func (PieceDone) isEvent()    {}
func (PieceFailed) isEvent()  {}
func (UrgentSet) isEvent()    {}

// Want asks for up to N ranked pieces for a peer.
type Want struct {
	Peer PeerID
	N    int
}

// Picks holds, per peer, pieces in the order the picker wants them
// requested. Lists may be shorter than asked; the host skips entries that
// have become useless.
type Picks map[PeerID][]int

// Picker ranks pieces. Pick is called with the swarm state already updated
// from the batch's events; it must not keep s after returning.
type Picker interface {
	Pick(ctx context.Context, s *Swarm, want []Want) (Picks, error)
}

// EventHandler is an optional interface: a picker that keeps its own
// incremental state gets every batch's events before Pick.
type EventHandler interface {
	HandleEvents(ctx context.Context, s *Swarm, events []Event) error
}
