package session

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/metadata"
	"github.com/torrent-dev/torrent/host/mse"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
	"github.com/torrent-dev/torrent/host/wire"
)

// The metadata phase of a magnet link: peers are dialled as the swarm
// would (the same address book and dial policy), or accepted as it would
// (metaaccept.go), handshaken (BitTorrent and BEP 10), and asked for
// ut_metadata pieces, several peers at once;
// a metadata.Assembler says who is asked what and checks the result.
//
// Liars are banned by IP: a peer that announces a metadata_size over the
// cap, and a peer whose metadata does not hash to the info-hash. When
// several peers contributed to a dictionary that does not match, nobody
// is blamed yet: the next attempts take every piece from one peer alone,
// so each failure names its liar; once the right dictionary is known,
// every piece each peer sent is compared with it and the peers whose
// pieces differ are banned too.

const (
	maxMetaRequests = 4       // ut_metadata requests in flight per peer
	maxMetaPeers    = 30      // peers connected at once in this phase
	maxMetaMsgLen   = 1 << 20 // a bitfield of 8M pieces; ut_metadata data is 16 KiB
	metaIdle        = 2 * time.Minute
	// metaAnswer is how long a peer may leave our requests unanswered
	// before its pieces go to others (in solo mode, the next peer).
	metaAnswer = 30 * time.Second
)

// found is a batch of addresses and where they came from.
type found struct {
	src   addrbook.Source
	addrs []netip.AddrPort
}

// pieceSum is what a peer sent for one metadata piece.
type pieceSum struct {
	total int
	sum   [20]byte
}

// fetcher runs the metadata phase. Its run loop owns everything but
// status and the channels; connection goroutines only report events.
type fetcher struct {
	infoHash, peerID [20]byte
	encrypt          bool         // Options.EncryptOutgoing
	ln               net.Listener // incoming peers (metaaccept.go); nil for none
	skeys            mse.Lookup   // the torrent incoming MSE peers may ask for
	maxPeers         int
	halfOpen         chan struct{} // one per incoming connection in its handshake
	refused          atomic.Int64  // incoming connections closed over that limit
	log              hclog.Logger
	book             *addrbook.Book
	asm              *metadata.Assembler[netip.AddrPort]
	addrs            chan found
	events           chan metaEvent
	status           atomic.Pointer[MetadataStatus]
	wg               sync.WaitGroup // connection goroutines

	// Owned by run.
	conns    map[netip.AddrPort]*metaConn // handshaken peers
	sent     map[netip.AddrPort]map[int]pieceSum
	solo     bool           // after a mismatch of several peers: one peer per attempt
	soloPeer netip.AddrPort // the peer of the attempt under way in solo mode
	bans     []netip.Addr
	heard    map[netip.AddrPort]netip.AddrPort // where incoming peers can be dialled (heardFrom)
	adopted  []swarm.Handshaken                // incoming peers for the swarm (handover.go)
}

func newFetcher(infoHash, peerID [20]byte, maxPeers int, log hclog.Logger) *fetcher {
	if maxPeers <= 0 || maxPeers > maxMetaPeers {
		maxPeers = maxMetaPeers
	}
	f := &fetcher{
		infoHash: infoHash, peerID: peerID, log: log,
		skeys: mse.InfoHashes(infoHash), maxPeers: maxPeers, halfOpen: make(chan struct{}, metaHalfOpen),
		heard:  map[netip.AddrPort]netip.AddrPort{},
		book:   addrbook.New(maxPeers),
		asm:    metadata.New[netip.AddrPort](infoHash),
		addrs:  make(chan found, 64),
		events: make(chan metaEvent, 64),
		conns:  map[netip.AddrPort]*metaConn{},
		sent:   map[netip.AddrPort]map[int]pieceSum{},
	}
	f.status.Store(&MetadataStatus{})
	return f
}

// add is the fetcher's AddFunc; a full queue drops the batch (the source
// sends more later), so no source ever waits on the fetcher.
func (f *fetcher) add(src addrbook.Source, addrs []netip.AddrPort) {
	select {
	case f.addrs <- found{src, append([]netip.AddrPort(nil), addrs...)}:
	default:
	}
}

// Status is the phase's progress, safe from any goroutine.
func (f *fetcher) Status() MetadataStatus { return *f.status.Load() }

// run fetches the info dictionary until it is complete and verified, or
// ctx ends. bans are the IPs banned on the way, in either case.
func (f *fetcher) run(ctx context.Context) (info []byte, bans []netip.Addr, err error) {
	cctx, cancel := context.WithCancel(ctx)
	stopListen, resetListener := f.listen(cctx)
	defer func() {
		var detached []*metaConn
		if info != nil {
			detached = f.detach()
		}
		cancel()
		stopListen()
		for _, c := range f.conns {
			c.close()
		}
		f.wg.Wait()
		resetListener() // nothing accepts on it any more: the swarm's
		f.adopted = f.adoptable(detached)
		if n := f.refused.Load(); n > 0 {
			f.log.Info("incoming connections refused over the half-open limit", "count", n, "limit", metaHalfOpen)
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, f.bans, ctx.Err()
		case fa := <-f.addrs:
			f.book.Add(fa.src, fa.addrs...)
		case ev := <-f.events:
			f.handle(ev)
			if info := f.asm.Info(); info != nil {
				f.judge(info)
				f.publish()
				return info, f.bans, nil
			}
			f.fill()
		case now := <-tick.C:
			f.timeouts(now)
			f.fill()
		}
		f.dial(cctx)
		f.publish()
	}
}

func (f *fetcher) publish() {
	have, total := f.asm.Progress()
	f.status.Store(&MetadataStatus{Peers: len(f.conns), Known: f.book.Len(), Have: have, Total: total})
}

func (f *fetcher) dial(ctx context.Context) {
	for _, a := range f.book.Dial(time.Now(), maxMetaPeers, false) {
		f.wg.Add(1)
		go f.connect(ctx, a)
	}
}

func (f *fetcher) handle(ev metaEvent) {
	a, now := ev.addr, time.Now()
	switch ev.kind {
	case evFailed:
		f.book.DialFailed(a, now)
		f.log.Debug("dial failed", "peer", a, "error", ev.err)
	case evUp:
		f.up(ev.conn)
	case evMsg:
		if c := f.conns[a]; c == ev.conn {
			f.message(c, ev.msg)
		}
	case evDown:
		if c := f.conns[a]; c == ev.conn {
			f.drop(c, ev.err)
		}
	}
}

// up takes a handshaken peer: it is used if it offers ut_metadata and a
// size within the cap, and banned if the size is over the cap.
func (f *fetcher) up(c *metaConn) {
	refuse := ""
	switch {
	case f.book.Banned(c.addr.Addr()):
		refuse = "banned"
	case c.incoming && len(f.conns) >= f.maxPeers:
		refuse = "too many peers"
	}
	if refuse != "" {
		if !c.incoming {
			f.book.Refused(c.addr)
		}
		f.log.Debug("connection refused", "peer", c.addr, "reason", refuse)
		c.close()
		return
	}
	f.book.Connected(c.addr, !c.incoming)
	f.conns[c.addr] = c
	if c.incoming {
		f.heardFrom(c)
	}
	f.log.Debug("peer connected", "peer", c.addr, "client", wire.ClientName(c.peerID), "metadata_size", c.size,
		"incoming", c.incoming)
	if c.theirID == 0 {
		f.drop(c, errors.New("no ut_metadata"))
		return
	}
	if err := f.asm.AddPeer(c.addr, c.size); err != nil {
		if c.size > wire.MaxMetadataSize {
			f.ban(c.addr.Addr(), fmt.Sprintf("metadata_size %d over the cap of %d", c.size, wire.MaxMetadataSize))
			return
		}
		f.drop(c, err) // it has no metadata (yet)
		return
	}
	c.inAsm = true
}

func (f *fetcher) message(c *metaConn, m wire.MetadataMsg) {
	if !c.pending[m.Piece] {
		// An answer to a request of an attempt given up (after a
		// mismatch), or to none: nothing to use, nothing to blame.
		return
	}
	delete(c.pending, m.Piece)
	c.waiting = time.Now()
	if m.Type == wire.MetadataReject {
		f.asm.Reject(c.addr, m.Piece)
		c.inAsm = false
		f.drop(c, errors.New("rejected our ut_metadata request"))
		return
	}
	if f.sent[c.addr] == nil {
		f.sent[c.addr] = map[int]pieceSum{}
	}
	f.sent[c.addr][m.Piece] = pieceSum{m.TotalSize, sha1.Sum(m.Data)}
	_, err := f.asm.Data(c.addr, m)
	var bad *metadata.HashMismatchError[netip.AddrPort]
	switch {
	case errors.As(err, &bad):
		f.mismatch(bad)
	case err != nil:
		f.drop(c, err)
	}
}

// mismatch handles a dictionary that did not hash right. One sender is a
// liar; of several, each is tried alone from now on.
func (f *fetcher) mismatch(bad *metadata.HashMismatchError[netip.AddrPort]) {
	for _, c := range f.conns {
		clear(c.pending) // the attempt is over; late answers are ignored
	}
	if len(bad.Peers) == 1 {
		f.ban(bad.Peers[0].Addr(), fmt.Sprintf("sent metadata of %d bytes that does not match the info-hash", bad.Size))
		return
	}
	f.log.Warn("metadata from several peers does not match the info-hash; fetching it from one peer at a time",
		"peers", len(bad.Peers), "size", bad.Size)
	f.solo = true
	for _, p := range bad.Peers {
		if c := f.conns[p]; c != nil {
			c.inAsm = f.asm.AddPeer(p, c.size) == nil
		}
	}
}

// judge bans, once the right dictionary is known, every peer that sent a
// piece of it that differs.
func (f *fetcher) judge(info []byte) {
	var liars []netip.AddrPort
	for p, pieces := range f.sent {
		for i, ps := range pieces {
			n := wire.MetadataPieceLen(len(info), i)
			if ps.total != len(info) || n == 0 || ps.sum != sha1.Sum(info[i*wire.MetadataPieceSize:i*wire.MetadataPieceSize+n]) {
				liars = append(liars, p)
				break
			}
		}
	}
	sort.Slice(liars, func(i, j int) bool { return liars[i].Compare(liars[j]) < 0 })
	for _, p := range liars {
		f.ban(p.Addr(), "sent metadata pieces that differ from the verified metadata")
	}
}

// timeouts drops peers that leave our requests unanswered.
func (f *fetcher) timeouts(now time.Time) {
	for _, c := range f.conns {
		if len(c.pending) > 0 && now.Sub(c.waiting) > metaAnswer {
			f.drop(c, fmt.Errorf("ut_metadata requests unanswered for %v", metaAnswer))
			f.book.DialFailed(c.addr, now) // back off, as for a dial that failed
		}
	}
}

// fill asks peers for pieces, up to maxMetaRequests each; in solo mode
// only one peer.
func (f *fetcher) fill() {
	if !f.solo {
		for _, c := range f.conns {
			f.ask(c)
		}
		return
	}
	if c := f.conns[f.soloPeer]; c != nil && c.inAsm {
		f.ask(c)
		return
	}
	var cands []netip.AddrPort
	for a, c := range f.conns {
		if c.inAsm {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 {
		return
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Compare(cands[j]) < 0 })
	f.soloPeer = cands[0]
	f.log.Debug("fetching the metadata from one peer", "peer", f.soloPeer)
	f.ask(f.conns[f.soloPeer])
}

func (f *fetcher) ask(c *metaConn) {
	for c.inAsm && len(c.pending) < maxMetaRequests {
		piece, ok := f.asm.Next(c.addr)
		if !ok {
			return
		}
		if len(c.pending) == 0 {
			c.waiting = time.Now()
		}
		c.pending[piece] = true
		req := wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataRequest, Piece: piece})
		if !c.send(wire.AppendMessage(nil, wire.Extended{ExtID: uint8(c.theirID), Payload: req})) {
			f.drop(c, errors.New("not reading our messages"))
			return
		}
	}
}

func (f *fetcher) drop(c *metaConn, why error) {
	if f.conns[c.addr] != c {
		return
	}
	delete(f.conns, c.addr)
	if c.inAsm {
		f.asm.DropPeer(c.addr)
	}
	c.close()
	f.book.Disconnected(c.addr, addrbook.LeftOK, time.Now())
	f.log.Debug("peer gone", "peer", c.addr, "reason", why)
}

// ban refuses ip for the rest of the session: here, and in the swarm.
func (f *fetcher) ban(ip netip.Addr, why string) {
	ip = ip.Unmap()
	if !f.book.Ban(ip) {
		return
	}
	f.bans = append(f.bans, ip)
	f.log.Warn("banning peer", "ip", ip, "reason", why)
	for _, c := range f.conns {
		if c.addr.Addr().Unmap() == ip {
			f.drop(c, errors.New("banned: "+why))
		}
	}
}
