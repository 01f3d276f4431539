package tracker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// BEP 15 actions.
const (
	actConnect  = 0
	actAnnounce = 1
	actError    = 3
	udpMagic    = 0x41727101980
	connIDLife  = time.Minute
)

// connIDs caches connection ids per tracker address for a minute.
var connIDs struct {
	sync.Mutex
	m map[string]connID
}

type connID struct {
	id  uint64
	got time.Time
}

func announceUDP(ctx context.Context, host string, req Request) (*Response, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "udp", host)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	id, err := udpConnect(ctx, c, host)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 98)
	binary.BigEndian.PutUint64(b, id)
	binary.BigEndian.PutUint32(b[8:], actAnnounce)
	copy(b[16:], req.InfoHash[:])
	copy(b[36:], req.PeerID[:])
	binary.BigEndian.PutUint64(b[56:], uint64(req.Downloaded))
	binary.BigEndian.PutUint64(b[64:], uint64(req.Left))
	binary.BigEndian.PutUint64(b[72:], uint64(req.Uploaded))
	binary.BigEndian.PutUint32(b[80:], uint32(req.Event)) // BEP 15 numbers events as we do
	binary.BigEndian.PutUint32(b[88:], req.Key)
	binary.BigEndian.PutUint32(b[92:], uint32(int32(req.NumWant)))
	binary.BigEndian.PutUint16(b[96:], uint16(req.Port))
	reply, err := udpRoundTrip(ctx, c, b, actAnnounce)
	if err != nil {
		return nil, err
	}
	// BEP 15: the peers' address family is the one the tracker was reached by.
	ipLen := 4
	if ra, ok := c.RemoteAddr().(*net.UDPAddr); ok && ra.IP.To4() == nil {
		ipLen = 16
	}
	return parseUDPAnnounce(reply, ipLen)
}

func udpConnect(ctx context.Context, c net.Conn, host string) (uint64, error) {
	connIDs.Lock()
	if cid, ok := connIDs.m[host]; ok && time.Since(cid.got) < connIDLife {
		connIDs.Unlock()
		return cid.id, nil
	}
	connIDs.Unlock()
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, udpMagic)
	binary.BigEndian.PutUint32(b[8:], actConnect)
	reply, err := udpRoundTrip(ctx, c, b, actConnect)
	if err != nil {
		return 0, err
	}
	id, err := parseUDPConnect(reply)
	if err != nil {
		return 0, err
	}
	connIDs.Lock()
	if connIDs.m == nil {
		connIDs.m = make(map[string]connID)
	}
	connIDs.m[host] = connID{id, time.Now()}
	connIDs.Unlock()
	return id, nil
}

// udpRoundTrip sends b with a fresh transaction id (bytes 12..16) and
// waits for the matching reply, resending after 15·2^n s as BEP 15 says,
// for as long as ctx allows.
func udpRoundTrip(ctx context.Context, c net.Conn, b []byte, action uint32) ([]byte, error) {
	var tid [4]byte
	rand.Read(tid[:])
	copy(b[12:16], tid[:])
	buf := make([]byte, 1<<16) // a datagram longer than buf would be cut short silently
	for n := 0; n < 9; n++ {
		if _, err := c.Write(b); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(15 * time.Second << n)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		c.SetReadDeadline(deadline)
		for {
			k, err := c.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // resend
				}
				return nil, err
			}
			if reply, ours, err := matchUDPReply(buf[:k], tid, action); ours {
				return reply, err
			}
		}
	}
	return nil, errNoReply
}

// matchUDPReply sorts a datagram read while waiting for the reply to the
// request with transaction id tid and the given action: ours is false for
// one to ignore (too short to carry a transaction id, or another's id);
// for ours, reply is a copy of r when its action is the one asked, err a
// tracker's failure (action 3) or a reply of the wrong action.
func matchUDPReply(r []byte, tid [4]byte, action uint32) (reply []byte, ours bool, err error) {
	if len(r) < 8 || [4]byte(r[4:8]) != tid {
		return nil, false, nil
	}
	switch got := binary.BigEndian.Uint32(r); got {
	case action:
		return append([]byte(nil), r...), true, nil
	case actError:
		return nil, true, &FailureError{Reason: string(r[8:])}
	default:
		return nil, true, fmt.Errorf("%w: action %d, want %d", ErrBadReply, got, action)
	}
}

// parseUDPConnect takes the connection id from a connect reply.
func parseUDPConnect(r []byte) (uint64, error) {
	if len(r) < 16 {
		return 0, fmt.Errorf("%w: connect reply of %d bytes", ErrBadReply, len(r))
	}
	return binary.BigEndian.Uint64(r[8:]), nil
}

var errNoReply = errors.New("no reply")

// parseUDPAnnounce decodes a BEP 15 announce reply whose peers have
// addresses of ipLen bytes: 4 from a tracker reached over IPv4, 16 over IPv6.
func parseUDPAnnounce(r []byte, ipLen int) (*Response, error) {
	if len(r) < 20 {
		// opentracker answers an announce it refuses (a torrent not on
		// its whitelist) with a bare header.
		return nil, &FailureError{Reason: fmt.Sprintf("refused: announce reply of %d bytes", len(r))}
	}
	if binary.BigEndian.Uint32(r) == actError {
		return nil, &FailureError{Reason: string(r[8:])}
	}
	interval := binary.BigEndian.Uint32(r[8:])
	peers, err := compactPeers(r[20:], ipLen)
	if err != nil {
		return nil, err
	}
	return &Response{
		Interval:   time.Duration(min(interval, 1e6)) * time.Second,
		Incomplete: int(binary.BigEndian.Uint32(r[12:])),
		Complete:   int(binary.BigEndian.Uint32(r[16:])),
		Peers:      peers,
	}, nil
}
