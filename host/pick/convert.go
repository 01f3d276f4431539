package pick

import (
	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/sdk"
)

// The host's half of the protocol's conversions: batches out, picks in.

func snapshotToProto(s sdk.Snapshot) *pickerpb.Snapshot {
	out := &pickerpb.Snapshot{
		Torrent: &pickerpb.Torrent{NumPieces: uint32(s.Torrent.NumPieces), PieceLength: uint64(s.Torrent.PieceLength), TotalLength: uint64(s.Torrent.TotalLength)},
		Have:    s.Have.Bytes(), Started: u32s(s.Started), Urgent: u32s(s.Urgent), Wanted: s.Wanted.Bytes(),
	}
	for id, bf := range s.Peers {
		out.Peers = append(out.Peers, &pickerpb.PeerBitfield{Peer: uint64(id), Have: bf.Bytes()})
	}
	return out
}

func u32s(p []int) []uint32 {
	out := make([]uint32, len(p))
	for i, v := range p {
		out[i] = uint32(v)
	}
	return out
}

func eventsToProto(evs []sdk.Event) []*pickerpb.Event {
	out := make([]*pickerpb.Event, 0, len(evs))
	for _, e := range evs {
		var pe pickerpb.Event
		switch e := e.(type) {
		case sdk.PeerJoined:
			pe.Kind = &pickerpb.Event_PeerJoined{PeerJoined: &pickerpb.PeerBitfield{Peer: uint64(e.Peer), Have: e.Have.Bytes()}}
		case sdk.PeerLeft:
			pe.Kind = &pickerpb.Event_PeerLeft{PeerLeft: uint64(e.Peer)}
		case sdk.PeerHave:
			pe.Kind = &pickerpb.Event_PeerHave{PeerHave: &pickerpb.PeerHave{Peer: uint64(e.Peer), Piece: uint32(e.Piece)}}
		case sdk.PieceStarted:
			pe.Kind = &pickerpb.Event_PieceStarted{PieceStarted: uint32(e.Piece)}
		case sdk.PieceDone:
			pe.Kind = &pickerpb.Event_PieceDone{PieceDone: uint32(e.Piece)}
		case sdk.PieceFailed:
			pe.Kind = &pickerpb.Event_PieceFailed{PieceFailed: uint32(e.Piece)}
		case sdk.UrgentSet:
			pe.Kind = &pickerpb.Event_Urgent{Urgent: &pickerpb.Urgent{Pieces: u32s(e.Pieces)}}
		default:
			continue
		}
		out = append(out, &pe)
	}
	return out
}

func picksFromProto(p *pickerpb.Picks) sdk.Picks {
	out := make(sdk.Picks, len(p.GetPeers()))
	for _, pp := range p.GetPeers() {
		list := make([]int, len(pp.GetPieces()))
		for i, v := range pp.GetPieces() {
			list[i] = int(v)
		}
		out[sdk.PeerID(pp.GetPeer())] = list
	}
	return out
}
