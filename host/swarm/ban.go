package swarm

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
)

// Bans are by IP and last the session, both ways: a banned IP is never
// dialled, and a connection from it is closed before its handshake.

// errBanned ends the connections of a banned IP.
var errBanned = errors.New("banned")

// ban refuses each IP for the rest of the session and drops its
// connections.
func (s *Swarm) ban(vs ...verdict) {
	for _, v := range vs {
		if s.webBlamed(v) {
			continue
		}
		ip := v.ip.Unmap()
		if !s.book.Ban(ip) {
			continue
		}
		s.log.Warn("banning peer", "ip", ip, "reason", v.why)
		for _, p := range s.peers {
			if p.addr.Addr().Unmap() == ip {
				s.dropPeer(p, fmt.Errorf("%w: %s", errBanned, v.why))
			}
		}
	}
}

// Smart ban (as anacrolix/torrent's smartban does): when a piece that
// several IPs contributed to fails its hash check, nobody is blamed yet;
// each block's sender and a hash of what it sent are kept. When the piece
// later verifies, the IPs whose blocks differ from the good data are
// banned, and an innocent co-contributor is not.
//
// What stays of the old strikes rule (every contributor to three failed
// pieces was banned, so an honest peer sharing pieces with a liar was
// banned with it): an IP that sent every block of a failed piece is banned
// at once, since nobody else can have spoilt it. Waiting for the piece to
// verify would not do for it: if that IP is the only one with the piece,
// the piece never verifies and the IP would never be judged
// (anacrolix/torrent issue 715 found the same). Co-contributors get no
// strikes at all: the verified piece decides.
//
// A liar that always shares its pieces (it sends one wrong block fast and
// refuses the rest) would keep every piece failing, and so never be
// judged. So a piece that failed with several senders is fetched again
// from one peer alone (startPiece, mayJoin), as libtorrent's parole does:
// then either it verifies, and the liars of the earlier attempts are
// found, or it fails with a sole sender, who is banned.

// blockRecord is one block of a failed piece as one IP sent it. Only a
// hash is kept, not the data; the hash is keyed by a seed of this session,
// so a peer cannot craft a wrong block that hashes like the right one.
type blockRecord struct {
	ip  netip.Addr
	sum uint64
}

// suspects holds, per failed piece and per block, what each IP sent.
type suspects struct {
	seed   maphash.Seed
	pieces map[int][][]blockRecord
}

func newSuspects() *suspects {
	return &suspects{seed: maphash.MakeSeed(), pieces: make(map[int][][]blockRecord)}
}

func blockOf(buf []byte, b int) []byte {
	return buf[b*blockSize : min((b+1)*blockSize, len(buf))]
}

// verdict is an IP to ban and why.
type verdict struct {
	ip  netip.Addr
	why string
}

// failed blames the sole sender of a failed piece, or remembers who sent
// which block for when the piece verifies. maphash runs at memory speed,
// far faster than a piece's data can arrive, so it stays on the run loop.
func (sp *suspects) failed(ps *pieceState) []verdict {
	if ip, only := soleSender(ps.from); only {
		return []verdict{{ip, fmt.Sprintf("sent all of piece %d, which failed its hash check", ps.index)}}
	}
	rec := sp.pieces[ps.index]
	if rec == nil {
		rec = make([][]blockRecord, len(ps.from))
		sp.pieces[ps.index] = rec
	}
	for b, ip := range ps.from {
		r := blockRecord{ip: ip, sum: maphash.Bytes(sp.seed, blockOf(ps.buf, b))}
		if !slices.Contains(rec[b], r) {
			rec[b] = append(rec[b], r)
		}
	}
	return nil
}

// soleSender says whether one IP sent every block.
func soleSender(from []netip.Addr) (netip.Addr, bool) {
	if len(from) == 0 {
		return netip.Addr{}, false
	}
	for _, ip := range from[1:] {
		if ip != from[0] {
			return netip.Addr{}, false
		}
	}
	return from[0], true
}

// good names the IPs that sent blocks of a piece's failed attempts that
// differ from its verified data.
func (sp *suspects) good(ps *pieceState) []verdict {
	rec := sp.pieces[ps.index]
	if rec == nil {
		return nil
	}
	delete(sp.pieces, ps.index)
	var guilty []verdict
	for b, records := range rec {
		if len(records) == 0 {
			continue
		}
		good := maphash.Bytes(sp.seed, blockOf(ps.buf, b))
		for _, r := range records {
			if r.sum != good {
				guilty = append(guilty, verdict{r.ip, fmt.Sprintf("sent block %d of piece %d, which differs from the verified piece", b, ps.index)})
			}
		}
	}
	return guilty
}
