package metadata

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/torrent-dev/torrent/host/wire"
)

// infoDict is size bytes standing in for an info dictionary.
func infoDict(size int) []byte {
	b := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(size), byte(size >> 8)}).Read(b)
	return b
}

// fetch asks each peer in turn until a has the metadata, answering from
// what each peer serves; it fails after too many rounds.
func fetch(t *testing.T, a *Assembler[string], serves map[string][]byte) ([]byte, error) {
	t.Helper()
	for range 1000 {
		progress := false
		for _, p := range slices.Sorted(maps.Keys(serves)) {
			piece, ok := a.Next(p)
			if !ok {
				continue
			}
			progress = true
			// Through the encoder and decoder, as on the wire.
			reply, err := wire.ParseMetadataMsg(wire.AppendMetadataMsg(nil,
				Serve(serves[p], wire.MetadataMsg{Type: wire.MetadataRequest, Piece: piece})))
			if err != nil {
				t.Fatalf("peer %s's reply: %v", p, err)
			}
			if reply.Type == wire.MetadataReject {
				a.Reject(p, piece)
				continue
			}
			done, err := a.Data(p, reply)
			if err != nil || done {
				return a.Info(), err
			}
		}
		if !progress {
			return nil, errors.New("no peer has anything to ask for")
		}
	}
	t.Fatal("metadata never completed")
	return nil, nil
}

func TestFetchFromSeveralPeers(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, wire.MetadataPieceSize, 3*wire.MetadataPieceSize + 17} {
		info := infoDict(size)
		a := New[string](sha1.Sum(info))
		serves := map[string][]byte{"a": info, "b": info, "c": info}
		for p := range serves {
			if err := a.AddPeer(p, size); err != nil {
				t.Fatal(err)
			}
		}
		got, err := fetch(t, a, serves)
		if err != nil || !bytes.Equal(got, info) {
			t.Fatalf("size %d: got %d bytes, %v", size, len(got), err)
		}
		if have, total := a.Progress(); have != total || total != wire.NumMetadataPieces(size) {
			t.Fatalf("progress %d/%d", have, total)
		}
	}
}

// A peer that sends a wrong piece spoils the first attempt: every peer
// that contributed is named, and the next attempt, without them, succeeds.
func TestWrongMetadataNamesPeersAndStartsOver(t *testing.T) {
	t.Parallel()
	size := 2*wire.MetadataPieceSize + 5
	info := infoDict(size)
	bad := bytes.Clone(info)
	bad[2*wire.MetadataPieceSize+2] ^= 1 // piece 2 differs
	a := New[string](sha1.Sum(info))
	serves := map[string][]byte{"good1": info, "liar": bad, "good2": info}
	for p := range serves {
		a.AddPeer(p, size)
	}
	_, err := fetch(t, a, serves)
	var mismatch *HashMismatchError[string]
	if !errors.As(err, &mismatch) {
		t.Fatalf("error %v, want a HashMismatchError", err)
	}
	// Pieces went to good1, good2, liar in turn (sorted order).
	if want := []string{"good1", "good2", "liar"}; !reflect.DeepEqual(mismatch.Peers, want) {
		t.Fatalf("blamed %v, want %v", mismatch.Peers, want)
	}
	if a.Info() != nil {
		t.Fatal("kept a metadata that does not match")
	}
	if _, ok := a.Next("liar"); ok {
		t.Fatal("a blamed peer is asked again")
	}
	// The caller bans them; honest peers arrive later.
	delete(serves, "liar")
	delete(serves, "good1")
	delete(serves, "good2")
	serves["good3"] = info
	a.AddPeer("good3", size)
	got, err := fetch(t, a, serves)
	if err != nil || !bytes.Equal(got, info) {
		t.Fatalf("second attempt: %d bytes, %v", len(got), err)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	size := 2 * wire.MetadataPieceSize
	info := infoDict(size)
	a := New[string](sha1.Sum(info))
	for _, s := range []int{0, -5, wire.MaxMetadataSize + 1} {
		if a.AddPeer("x", s) == nil {
			t.Fatalf("metadata_size %d accepted", s)
		}
	}
	if _, ok := a.Next("x"); ok {
		t.Fatal("a peer with a refused size is asked")
	}
	a.AddPeer("p", size)
	piece := Serve(info, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: 1})
	if _, err := a.Data("p", piece); err == nil {
		t.Fatal("an unrequested piece is accepted")
	}
	n, ok := a.Next("p")
	if !ok || n != 0 {
		t.Fatalf("Next = %d, %v", n, ok)
	}
	wrongTotal := Serve(info, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: 0})
	wrongTotal.TotalSize = size + 1
	if _, err := a.Data("p", wrongTotal); err == nil {
		t.Fatal("a piece with another total_size is accepted")
	}
	if _, err := a.Data("q", Serve(info, wire.MetadataMsg{Piece: 0})); err == nil {
		t.Fatal("a piece from a peer never asked is accepted")
	}
	if _, err := a.Data("p", wire.MetadataMsg{Type: wire.MetadataReject}); err == nil {
		t.Fatal("a reject passed as data is accepted")
	}
}

// Peers that announce another size than most are not asked; when every
// peer of the attempt's size is gone the others are followed.
func TestSizeVote(t *testing.T) {
	t.Parallel()
	size := wire.MetadataPieceSize + 1
	info := infoDict(size)
	a := New[string](sha1.Sum(info))
	a.AddPeer("a", size)
	a.AddPeer("b", size)
	a.AddPeer("odd", 99)
	if _, ok := a.Next("odd"); ok {
		t.Fatal("the peer with the minority size is asked")
	}
	if _, ok := a.Next("a"); !ok {
		t.Fatal("a majority peer is not asked")
	}
	a.DropPeer("a")
	a.DropPeer("b")
	if _, ok := a.Next("odd"); !ok {
		t.Fatal("with the majority gone, the remaining peer is not asked")
	}
	if _, total := a.Progress(); total != 1 {
		t.Fatalf("attempt of %d pieces, want 1 (99 bytes)", total)
	}
}

// A peer that drops out mid-way leaves its piece to another; at the end a
// missing piece may be asked of a second peer too.
func TestDropAndEndgame(t *testing.T) {
	t.Parallel()
	size := 2 * wire.MetadataPieceSize
	info := infoDict(size)
	a := New[string](sha1.Sum(info))
	a.AddPeer("slow", size)
	a.AddPeer("fast", size)
	p0, _ := a.Next("slow")
	p1, _ := a.Next("fast")
	if p0 == p1 {
		t.Fatalf("both peers asked for piece %d while another was free", p0)
	}
	if dup, ok := a.Next("fast"); !ok || dup != p0 {
		t.Fatalf("endgame: Next = %d, %v, want %d", dup, ok, p0)
	}
	if _, ok := a.Next("fast"); ok {
		t.Fatal("fast asked twice for the same piece")
	}
	for _, p := range []int{p1, p0} {
		if _, err := a.Data("fast", Serve(info, wire.MetadataMsg{Piece: p})); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Info(), info) {
		t.Fatal("not complete")
	}
	if done, err := a.Data("slow", Serve(info, wire.MetadataMsg{Piece: p0})); !done || err != nil {
		t.Fatalf("late duplicate: %v, %v", done, err)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	info := infoDict(wire.MetadataPieceSize + 10)
	for name, tc := range map[string]struct {
		info []byte
		req  wire.MetadataMsg
		want wire.MetadataMsg
	}{
		"first":    {info, wire.MetadataMsg{Piece: 0}, wire.MetadataMsg{Type: wire.MetadataData, TotalSize: len(info), Data: info[:wire.MetadataPieceSize]}},
		"last":     {info, wire.MetadataMsg{Piece: 1}, wire.MetadataMsg{Type: wire.MetadataData, Piece: 1, TotalSize: len(info), Data: info[wire.MetadataPieceSize:]}},
		"past end": {info, wire.MetadataMsg{Piece: 2}, wire.MetadataMsg{Type: wire.MetadataReject, Piece: 2}},
		"none yet": {nil, wire.MetadataMsg{Piece: 0}, wire.MetadataMsg{Type: wire.MetadataReject}},
		"not a request": {info, wire.MetadataMsg{Type: wire.MetadataData, Piece: 0},
			wire.MetadataMsg{Type: wire.MetadataReject}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Serve(tc.info, tc.req); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v %d %d, want %v %d %d", got.Type, got.Piece, len(got.Data), tc.want.Type, tc.want.Piece, len(tc.want.Data))
			}
		})
	}
}
