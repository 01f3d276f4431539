package dht

import (
	"context"
	"encoding/hex"
	"net/netip"
	"time"

	adht "github.com/anacrolix/dht/v2"
)

// Peers runs get_peers for infoHash now and then every `every` until ctx
// ends or the node closes, sending the peers each answering node gives. The
// channel closes then; the caller must read it until it does.
func (n *Node) Peers(ctx context.Context, infoHash [20]byte, every time.Duration) <-chan []netip.AddrPort {
	return n.search(ctx, infoHash, 0, Backoff(every, every))
}

// Announce is Peers that also announces (announce_peer) our BitTorrent port
// to the nodes closest to infoHash at the end of each round: for a torrent
// we download or seed. Peers arrive during a round, before its announce:
// a caller that ends ctx as soon as it has the peer it wanted may not have
// been announced at all, so keep it running while others must find us.
func (n *Node) Announce(ctx context.Context, infoHash [20]byte, port int, every time.Duration) <-chan []netip.AddrPort {
	return n.search(ctx, infoHash, port, Backoff(every, every))
}

// AnnounceOn is Announce with the pause before each next round given by
// next (see Backoff).
func (n *Node) AnnounceOn(ctx context.Context, infoHash [20]byte, port int, next func() time.Duration) <-chan []netip.AddrPort {
	return n.search(ctx, infoHash, port, next)
}

// Backoff is a schedule of rounds for AnnounceOn: first, then doubling up
// to most. Not safe for concurrent use; one per search.
func Backoff(first, most time.Duration) func() time.Duration {
	d := first
	return func() time.Duration {
		cur := d
		d = min(2*d, most)
		return cur
	}
}

func (n *Node) search(ctx context.Context, ih [20]byte, port int, next func() time.Duration) <-chan []netip.AddrPort {
	out := make(chan []netip.AddrPort, 8)
	ctx, cancel := context.WithCancel(ctx)
	select {
	case <-n.closing:
		cancel()
		close(out)
		return out
	default:
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer close(out)
		defer cancel()
		go func() {
			select {
			case <-n.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if n.round(ctx, ih, port, out) {
				t.Reset(next())
			} else {
				// No node to start from yet (bootstrap under way): the
				// first search must not wait a whole interval for it.
				t.Reset(startRetry)
			}
		}
	}()
	return out
}

// startRetry is how soon a search retries a round that had no node to
// start from.
const startRetry = time.Second

// round is one traversal toward ih: get_peers, then announce_peer if port
// is set. It returns once the library's traversal has wound down, false if
// it could not start.
func (n *Node) round(ctx context.Context, ih [20]byte, port int, out chan<- []netip.AddrPort) bool {
	var opts []adht.AnnounceOpt
	if port > 0 {
		opts = append(opts, adht.AnnouncePeer(adht.AnnouncePeerOpts{Port: port}))
	}
	a, err := n.srv.AnnounceTraversal(ih, opts...)
	if err != nil {
		n.log.Debug("dht get_peers not started", "infohash", hex.EncodeToString(ih[:]), "error", err)
		return false
	}
	defer func() {
		a.Close()
		for range a.Peers { // the library closes Peers once it has stopped
		}
	}()
	found := 0
	for {
		select {
		case <-ctx.Done():
			// The library announces only at the end of a traversal: a round
			// cut short here (as its caller stops) has not announced us.
			n.log.Trace("dht round stopped before its end", "infohash", hex.EncodeToString(ih[:]), "peers", found)
			return true
		case pv, ok := <-a.Peers:
			if !ok {
				n.log.Debug("dht round done", "infohash", hex.EncodeToString(ih[:]), "peers", found, "announced", port > 0,
					"contacted", a.NumContacted())
				return true
			}
			var peers []netip.AddrPort
			for _, p := range pv.Peers {
				if ap, ok := nodeAddrPort(p); ok {
					peers = append(peers, ap)
				}
			}
			if len(peers) == 0 {
				continue
			}
			found += len(peers)
			select {
			case out <- peers:
			case <-ctx.Done():
				return true
			}
		}
	}
}
