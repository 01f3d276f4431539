package pick

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/sdk"
)

// FuzzPluginPicks feeds the host whatever bytes a picker plugin could put
// on the wire as an answer: the host keeps only picks that are in range,
// once each, for a peer it asked about and that has them, and no more than
// it asked for.
func FuzzPluginPicks(f *testing.F) {
	for _, p := range []*pickerpb.Picks{
		{Seq: 1, Peers: []*pickerpb.PeerPicks{{Peer: 1, Pieces: []uint32{10, 12}}}},
		{Seq: 2, Peers: []*pickerpb.PeerPicks{{Peer: 1, Pieces: []uint32{999, 10, 10, 0}}, {Peer: 9, Pieces: []uint32{1}}}},
		{Peers: []*pickerpb.PeerPicks{{Peer: 1<<64 - 1, Pieces: []uint32{1<<32 - 1}}}},
	} {
		b, err := proto.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s, err := sdk.NewSwarm(sdk.Snapshot{Torrent: sdk.Torrent{NumPieces: numPieces, PieceLength: 1}, Have: have()})
	if err != nil {
		f.Fatal(err)
	}
	s.Apply(sdk.PeerJoined{Peer: 1, Have: bits(10, 11, 12, 40, 63)})
	s.Apply(sdk.PeerJoined{Peer: 2, Have: bits(5, 20)})
	asked := map[sdk.PeerID]int{1: 3, 2: 2}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p pickerpb.Picks
		if proto.Unmarshal(b, &p) != nil {
			return // gRPC refuses it before the host sees it
		}
		got, _ := check(s, picksFromProto(&p), asked)
		for id, list := range got {
			n, ok := asked[id]
			if !ok {
				t.Fatalf("kept picks for peer %d, which was not asked", id)
			}
			if len(list) > n {
				t.Fatalf("kept %d picks for peer %d, which asked for %d", len(list), id, n)
			}
			seen := map[int]bool{}
			for _, i := range list {
				if i < 0 || i >= numPieces || seen[i] || s.Have(i) || !s.PeerHas(id, i) {
					t.Fatalf("kept piece %d for peer %d: %v", i, id, list)
				}
				seen[i] = true
			}
		}
	})
}
