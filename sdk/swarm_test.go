package sdk

import (
	"slices"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/proto/pickerpb"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

func bits(n int, set ...int) bitfield.Bitfield {
	b := bitfield.New(n)
	for _, i := range set {
		b.Set(i)
	}
	return b
}

func TestSwarmAvailability(t *testing.T) {
	t.Parallel()
	s, err := NewSwarm(Snapshot{Torrent: Torrent{NumPieces: 10, PieceLength: 16}, Have: bits(10, 0)})
	if err != nil {
		t.Fatal(err)
	}
	steps := []Event{
		PeerJoined{1, bits(10, 1, 2)},
		PeerJoined{2, bits(10, 2)},
		PeerHave{2, 3},
		PeerHave{2, 3},             // repeated: counted once
		PeerJoined{1, bits(10, 2)}, // replaces peer 1's bitfield
		PieceStarted{4},
		PieceDone{4},
		UrgentSet{[]int{5, 6}},
	}
	for _, e := range steps {
		if err := s.Apply(e); err != nil {
			t.Fatalf("%#v: %v", e, err)
		}
	}
	for piece, want := range map[int]int{1: 0, 2: 2, 3: 1, 4: 0} {
		if got := s.Availability(piece); got != want {
			t.Errorf("Availability(%d) = %d, want %d", piece, got, want)
		}
	}
	if s.Started(4) || !s.Have(4) || s.Missing() != 8 || len(s.Urgent()) != 2 {
		t.Fatalf("state after events: started %v have %v missing %d urgent %v", s.Started(4), s.Have(4), s.Missing(), s.Urgent())
	}
	s.Apply(PeerLeft{2})
	if s.Availability(2) != 1 || s.Availability(3) != 0 || s.Connected(2) {
		t.Fatal("PeerLeft did not remove peer 2's pieces")
	}
	snap := s.Snapshot()
	again, err := NewSwarm(snap)
	if err != nil || again.Availability(2) != 1 || !again.Have(4) {
		t.Fatalf("snapshot round trip: %v", err)
	}
}

// A piece verified earlier and later found changed on disk comes back as
// PieceFailed: missing again, to be picked.
func TestSwarmPieceLostAfterDone(t *testing.T) {
	t.Parallel()
	s, err := NewSwarm(Snapshot{Torrent: Torrent{NumPieces: 4, PieceLength: 16}, Have: bits(4, 0, 1, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(PieceFailed{2}); err != nil {
		t.Fatal(err)
	}
	if s.Have(2) || s.Missing() != 1 {
		t.Fatalf("after PieceFailed of a piece had: have %v, missing %d", s.Have(2), s.Missing())
	}
	if err := s.Apply(PieceFailed{2}); err != nil || s.Missing() != 1 {
		t.Fatalf("a second PieceFailed: missing %d (%v)", s.Missing(), err)
	}
}

func TestSwarmRejectsBadEvents(t *testing.T) {
	t.Parallel()
	tests := map[string]Event{
		"short bitfield":  PeerJoined{1, bitfield.New(3)},
		"have range":      PeerHave{1, 10},
		"have negative":   PeerHave{1, -1},
		"unknown peer":    PeerHave{7, 1},
		"done range":      PieceDone{99},
		"urgent range":    UrgentSet{[]int{1, 10}},
		"started range":   PieceStarted{10},
		"failed negative": PieceFailed{-5},
		"nil event":       nil,
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _ := NewSwarm(Snapshot{Torrent: Torrent{NumPieces: 10, PieceLength: 16}, Have: bitfield.New(10)})
			s.Apply(PeerJoined{1, bitfield.New(10)})
			if err := s.Apply(e); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestConvertRejectsHostileInput(t *testing.T) {
	t.Parallel()
	good := &pickerpb.Torrent{NumPieces: 10, PieceLength: 16}
	snaps := map[string]*pickerpb.Snapshot{
		"no torrent":      {},
		"zero piece len":  {Torrent: &pickerpb.Torrent{NumPieces: 10}},
		"huge":            {Torrent: &pickerpb.Torrent{NumPieces: 1 << 31, PieceLength: 16}},
		"have size":       {Torrent: good, Have: []byte{0}},
		"spare bits":      {Torrent: good, Have: []byte{0, 0xff}},
		"started range":   {Torrent: good, Have: []byte{0, 0}, Started: []uint32{10}},
		"peer bitfield":   {Torrent: good, Have: []byte{0, 0}, Peers: []*pickerpb.PeerBitfield{{Peer: 1, Have: []byte{1}}}},
		"urgent too high": {Torrent: good, Have: []byte{0, 0}, Urgent: []uint32{1 << 31}},
	}
	for name, s := range snaps {
		if _, err := snapshotFromProto(s); err == nil {
			t.Errorf("snapshot %s: no error", name)
		}
	}
	events := map[string]*pickerpb.Event{
		"joined bitfield": {Kind: &pickerpb.Event_PeerJoined{PeerJoined: &pickerpb.PeerBitfield{Peer: 1, Have: []byte{1, 2, 3}}}},
		"urgent range":    {Kind: &pickerpb.Event_Urgent{Urgent: &pickerpb.Urgent{Pieces: []uint32{11}}}},
		"empty":           {},
	}
	for name, e := range events {
		if _, err := eventsFromProto([]*pickerpb.Event{e}, 10); err == nil {
			t.Errorf("event %s: no error", name)
		}
	}
	if _, err := snapshotFromProto(&pickerpb.Snapshot{Torrent: good, Have: []byte{0x80, 0}}); err != nil {
		t.Errorf("a good snapshot: %v", err)
	}
	if w := wantsFromProto([]*pickerpb.Want{{Peer: 1, Count: 1 << 30}}); w[0].N > 1<<16 {
		t.Errorf("want count not capped: %d", w[0].N)
	}
	if got := picksToProto(1, Picks{1: {3, -1, 4}}); len(got.Peers[0].Pieces) != 2 || !strings.Contains(got.String(), "pieces") {
		t.Errorf("picks: %v", got)
	}
}

// Wanted: with no Wanted bitfield every piece of the torrent is wanted;
// with one only its pieces are. NewSwarm and Snapshot copy the view (a
// picker may keep or change a Snapshot), and a Snapshot restarts a picker
// with the same wanted and started pieces.
func TestSwarmWanted(t *testing.T) {
	t.Parallel()
	tr := Torrent{NumPieces: 4, PieceLength: 16}
	tests := map[string]struct {
		wanted bitfield.Bitfield
		want   []int // of pieces -1..4
	}{
		"every piece": {want: []int{0, 1, 2, 3}},
		"some":        {wanted: bits(4, 1, 3), want: []int{1, 3}},
		"none":        {wanted: bits(4), want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := Snapshot{Torrent: tr, Have: bits(4), Started: []int{2}, Wanted: tc.wanted.Clone()}
			w, err := NewSwarm(in)
			if err != nil {
				t.Fatal(err)
			}
			in.Wanted.SetAll()
			snap := w.Snapshot()
			snap.Wanted.SetAll()
			again, err := NewSwarm(w.Snapshot())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []*Swarm{w, again} {
				var got []int
				for i := -1; i <= 4; i++ {
					if s.Wanted(i) {
						got = append(got, i)
					}
				}
				if !slices.Equal(got, tc.want) || !s.Started(2) || s.Started(1) {
					t.Fatalf("wanted %v, want %v; started 2: %v", got, tc.want, s.Started(2))
				}
			}
		})
	}
	if _, err := NewSwarm(Snapshot{Torrent: tr, Have: bits(4), Wanted: bits(5)}); err == nil {
		t.Fatal("a wanted bitfield of 5 pieces for 4: no error")
	}
}

// The host's wanted bitfield reaches the Swarm; one of the wrong size is
// an error for the snapshot.
func TestConvertWanted(t *testing.T) {
	t.Parallel()
	tr := &pickerpb.Torrent{NumPieces: 10, PieceLength: 16}
	s, err := snapshotFromProto(&pickerpb.Snapshot{Torrent: tr, Have: bits(10).Bytes(), Wanted: bits(10, 0, 9).Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewSwarm(s)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Wanted(0) || !w.Wanted(9) || w.Wanted(5) {
		t.Fatalf("wanted %v, want pieces 0 and 9", s.Wanted)
	}
	if _, err := snapshotFromProto(&pickerpb.Snapshot{Torrent: tr, Have: bits(10).Bytes(), Wanted: []byte{1}}); err == nil || !strings.Contains(err.Error(), "snapshot wanted") {
		t.Fatalf("a one-byte wanted for 10 pieces: %v", err)
	}
}
