package sdk

// Conversions between the picker protocol's generated types and the SDK's
// plain Go types, validating what comes from the host. Generated types never
// appear in the SDK's exported API.

import (
	"fmt"

	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// maxPieces bounds a torrent's piece count (a 64 MiB bitfield).
const maxPieces = 1 << 29

// snapshotFromProto converts and checks a snapshot.
func snapshotFromProto(s *pickerpb.Snapshot) (Snapshot, error) {
	t := s.GetTorrent()
	if t == nil || t.NumPieces > maxPieces || t.PieceLength == 0 || t.PieceLength > 1<<30 {
		return Snapshot{}, fmt.Errorf("snapshot: bad torrent %v", t)
	}
	n := int(t.NumPieces)
	have, err := bitfield.FromBytes(s.Have, n)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot have: %w", err)
	}
	out := Snapshot{
		Torrent: Torrent{NumPieces: n, PieceLength: int64(t.PieceLength), TotalLength: int64(t.TotalLength)},
		Have:    have, Peers: make(map[PeerID]bitfield.Bitfield, len(s.Peers)),
	}
	if len(s.Wanted) > 0 {
		if out.Wanted, err = bitfield.FromBytes(s.Wanted, n); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot wanted: %w", err)
		}
	}
	if out.Started, err = pieces(s.Started, n); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot started: %w", err)
	}
	if out.Urgent, err = pieces(s.Urgent, n); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot urgent: %w", err)
	}
	for _, p := range s.Peers {
		bf, err := bitfield.FromBytes(p.Have, n)
		if err != nil {
			return Snapshot{}, fmt.Errorf("snapshot peer %d: %w", p.Peer, err)
		}
		out.Peers[PeerID(p.Peer)] = bf
	}
	return out, nil
}

func pieces(p []uint32, n int) ([]int, error) {
	out := make([]int, len(p))
	for i, v := range p {
		if int64(v) >= int64(n) {
			return nil, fmt.Errorf("piece %d out of range (%d pieces)", v, n)
		}
		out[i] = int(v)
	}
	return out, nil
}

// eventsFromProto converts a batch's events for a torrent of n pieces.
func eventsFromProto(evs []*pickerpb.Event, n int) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		var ev Event
		switch k := e.GetKind().(type) {
		case *pickerpb.Event_PeerJoined:
			bf, err := bitfield.FromBytes(k.PeerJoined.GetHave(), n)
			if err != nil {
				return nil, fmt.Errorf("peer %d joined: %w", k.PeerJoined.GetPeer(), err)
			}
			ev = PeerJoined{Peer: PeerID(k.PeerJoined.GetPeer()), Have: bf}
		case *pickerpb.Event_PeerLeft:
			ev = PeerLeft{Peer: PeerID(k.PeerLeft)}
		case *pickerpb.Event_PeerHave:
			ev = PeerHave{Peer: PeerID(k.PeerHave.GetPeer()), Piece: int(k.PeerHave.GetPiece())}
		case *pickerpb.Event_PieceStarted:
			ev = PieceStarted{Piece: int(k.PieceStarted)}
		case *pickerpb.Event_PieceDone:
			ev = PieceDone{Piece: int(k.PieceDone)}
		case *pickerpb.Event_PieceFailed:
			ev = PieceFailed{Piece: int(k.PieceFailed)}
		case *pickerpb.Event_Urgent:
			p, err := pieces(k.Urgent.GetPieces(), n)
			if err != nil {
				return nil, fmt.Errorf("urgent: %w", err)
			}
			ev = UrgentSet{Pieces: p}
		default:
			return nil, fmt.Errorf("unknown event %T", k)
		}
		out = append(out, ev)
	}
	return out, nil
}

// wantsFromProto converts a batch's wants.
func wantsFromProto(ws []*pickerpb.Want) []Want {
	out := make([]Want, len(ws))
	for i, w := range ws {
		out[i] = Want{Peer: PeerID(w.GetPeer()), N: int(min(w.GetCount(), 1<<16))}
	}
	return out
}

// picksToProto converts a picker's answer for the batch seq.
func picksToProto(seq uint64, p Picks) *pickerpb.Picks {
	out := &pickerpb.Picks{Seq: seq, Peers: make([]*pickerpb.PeerPicks, 0, len(p))}
	for id, list := range p {
		pp := &pickerpb.PeerPicks{Peer: uint64(id), Pieces: make([]uint32, 0, len(list))}
		for _, i := range list {
			if i >= 0 {
				pp.Pieces = append(pp.Pieces, uint32(i))
			}
		}
		out.Peers = append(out.Peers, pp)
	}
	return out
}
