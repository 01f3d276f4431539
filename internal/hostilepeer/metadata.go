package hostilepeer

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/torrent-dev/torrent/host/wire"
)

// ourMetadataID is the number the peer's extension handshake gives
// ut_metadata.
const ourMetadataID = 1

// metadata lies about the info dictionary (BEP 9): WrongMetadata sends
// random bytes of the right size for every piece asked, OversizedMetadata
// announces a size over the cap. dialled: the peer opened c, so its
// handshake goes first.
func (p *Peer) metadata(c net.Conn, dialled bool) error {
	ours := wire.NewHandshake(p.tr.InfoHash, p.id)
	if dialled {
		if err := wire.WriteHandshake(c, ours); err != nil {
			return err
		}
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		return err
	}
	if !dialled {
		if err := wire.WriteHandshake(c, ours); err != nil {
			return err
		}
	}
	size := p.tr.MetadataSize
	if p.b == OversizedMetadata {
		size = wire.MaxMetadataSize + 1
	}
	eh := wire.ExtHandshake{M: map[string]int{wire.ExtMetadata: ourMetadataID}, V: "hostile", MetadataSize: size}
	if _, err := c.Write(wire.AppendMessage(nil, wire.Extended{ExtID: 0, Payload: eh.Marshal()})); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	r := wire.NewReader(c, 4<<20)
	theirs := 0
	for {
		m, err := r.Next()
		if err != nil {
			return err
		}
		x, ok := m.(*wire.Extended)
		switch {
		case !ok:
			continue
		case x.ExtID == 0:
			if h, err := wire.ParseExtHandshake(x.Payload); err == nil {
				theirs = h.M[wire.ExtMetadata]
			}
			continue
		case x.ExtID != ourMetadataID || theirs <= 0 || theirs > 255:
			continue
		}
		req, err := wire.ParseMetadataMsg(x.Payload)
		if err != nil || req.Type != wire.MetadataRequest {
			continue
		}
		n := wire.MetadataPieceLen(size, req.Piece)
		if n == 0 {
			continue
		}
		if p.metaOut.Load() > 0 && p.opt.Delay > 0 && !p.sleep(p.opt.Delay) {
			return nil
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		payload := wire.AppendMetadataMsg(nil, wire.MetadataMsg{Type: wire.MetadataData, Piece: req.Piece, TotalSize: size, Data: data})
		if _, err := c.Write(wire.AppendMessage(nil, wire.Extended{ExtID: uint8(theirs), Payload: payload})); err != nil {
			return err
		}
		p.metaOut.Add(1)
	}
}

// MetadataSent is how many ut_metadata pieces the peer has sent.
func (p *Peer) MetadataSent() int { return int(p.metaOut.Load()) }

// DialMetadata connects to `to` from the peer's IP and lies about the
// metadata there as the side that dialled (WrongMetadata and
// OversizedMetadata only): a client accepting during a magnet link's
// metadata phase. It returns when the connection ends; answered says
// whether the client's handshake came back (a client that refuses the
// IP closes the connection unanswered).
func (p *Peer) DialMetadata(to netip.AddrPort) (answered bool, err error) {
	if p.b != WrongMetadata && p.b != OversizedMetadata {
		return false, fmt.Errorf("DialMetadata is for WrongMetadata and OversizedMetadata, not %v", p.b)
	}
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(p.opt.IP)}}
	c, err := d.Dial("tcp", to.String())
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(connLife))
	hc := &handshakeSeen{Conn: c}
	err = p.metadata(hc, true)
	if droppedBy(err) {
		err = nil
	}
	return hc.n >= 68, err
}

// handshakeSeen counts the bytes read, to tell whether a handshake came.
type handshakeSeen struct {
	net.Conn
	n int
}

func (c *handshakeSeen) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n += n
	return n, err
}
