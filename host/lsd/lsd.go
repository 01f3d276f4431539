// Package lsd is BEP 14 local service discovery: it announces our torrent
// to the local network by multicast and reports the peers that announce
// the same torrent. Where multicast cannot be used (no interface takes the
// group, sends fail) it is off, and says so once.
package lsd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/ipv4"
)

// Group is BEP 14's IPv4 multicast group and port.
const Group = "239.192.152.143:6771"

// Defaults.
const (
	// DefaultEvery is how often we announce, as libtorrent does
	// (BEP 14 asks for no more than once a minute).
	DefaultEvery = 5 * time.Minute
	// maxPerSecond bounds the announces we read; the rest are dropped
	// unread, so a flood of them costs little.
	maxPerSecond = 20
)

// Config is one torrent's discovery.
type Config struct {
	InfoHash [20]byte
	Port     int           // our TCP peer port, announced
	Every    time.Duration // 0 = DefaultEvery
	Again    time.Duration // the second announce after the first; 0 = a minute (at most Every)
	// Group is the multicast group and port; "" = Group. Tests use
	// another port so they never meet real clients.
	Group string
	// HostOnly sends with TTL 0: announces reach other clients on this
	// host only (tests), never the local network (TTL 1).
	HostOnly bool
	Logger   hclog.Logger
}

// Service runs until Close.
type Service struct {
	cfg    Config
	log    hclog.Logger
	conn   *net.UDPConn
	pc     *ipv4.PacketConn
	group  *net.UDPAddr
	cookie string
	found  func([]netip.AddrPort)
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start joins the group and starts announcing; found gets the address of
// each peer that announces our torrent (never our own announces). An
// error means discovery is off (nothing runs).
func Start(cfg Config, found func([]netip.AddrPort)) (*Service, error) {
	if cfg.Group == "" {
		cfg.Group = Group
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Again <= 0 {
		cfg.Again = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	group, err := net.ResolveUDPAddr("udp4", cfg.Group)
	if err != nil || !group.IP.IsMulticast() {
		return nil, fmt.Errorf("local discovery: %q is not a multicast group", cfg.Group)
	}
	conn, err := listenShared(group.Port)
	if err != nil {
		return nil, fmt.Errorf("local discovery: %w", err)
	}
	pc := ipv4.NewPacketConn(conn)
	if joined := join(pc, group); joined == 0 {
		conn.Close()
		return nil, errors.New("local discovery: no network interface takes multicast")
	}
	// Errors here leave the system defaults (TTL 1, loopback on).
	ttl := 1
	if cfg.HostOnly {
		ttl = 0
	}
	pc.SetMulticastTTL(ttl)
	pc.SetMulticastLoopback(true)
	var c [4]byte
	rand.Read(c[:])
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, log: cfg.Logger, conn: conn, pc: pc, group: group,
		cookie: hex.EncodeToString(c[:]), found: found, cancel: cancel}
	if err := s.announce(); err != nil {
		s.Close()
		return nil, fmt.Errorf("local discovery: announce to %s: %w", cfg.Group, err)
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.announceEvery(ctx) }()
	go func() { defer s.wg.Done(); s.receive() }()
	return s, nil
}

// listenShared binds the group's port with SO_REUSEADDR, so that every
// client on the host (and several instances of this one) hears the group.
func listenShared(port int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// join adds the group on every interface that is up and takes it.
func join(pc *ipv4.PacketConn, group *net.UDPAddr) int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0
	}
	n := 0
	for i := range ifs {
		if ifs[i].Flags&net.FlagUp == 0 {
			continue
		}
		if pc.JoinGroup(&ifs[i], group) == nil {
			n++
		}
	}
	return n
}

func (s *Service) announce() error {
	m := Msg{Port: uint16(s.cfg.Port), InfoHashes: [][20]byte{s.cfg.InfoHash}, Cookie: s.cookie}
	_, err := s.conn.WriteToUDP(m.Marshal(s.cfg.Group), s.group)
	return err
}

// announceEvery announces again cfg.Again after the first announce (a
// minute: as soon as BEP 14 allows), then every cfg.Every: discovery rests on one
// datagram each side sends, and the second gives a lost one, or one the
// other side had no room for, another chance well before the next.
func (s *Service) announceEvery(ctx context.Context) {
	t := time.NewTimer(min(s.cfg.Again, s.cfg.Every))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.announce(); err != nil {
				s.log.Debug("local discovery announce", "error", err)
			}
			t.Reset(s.cfg.Every)
		}
	}
}

// receive reads announces until the socket closes.
func (s *Service) receive() {
	buf := make([]byte, maxMsg+1)
	window, n := time.Now(), 0
	for {
		k, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Debug("local discovery read", "error", err)
			}
			return
		}
		if now := time.Now(); now.Sub(window) >= time.Second {
			window, n = now, 0
		}
		if n++; n > maxPerSecond {
			continue
		}
		if a, ok := s.peer(buf[:k], from); ok {
			s.found([]netip.AddrPort{a})
		}
	}
}

// peer is the address an announce gives for our torrent, if it does.
func (s *Service) peer(b []byte, from netip.AddrPort) (netip.AddrPort, bool) {
	m, err := Parse(b)
	if err != nil {
		if !errors.Is(err, errNotSearch) {
			s.log.Debug("bad local discovery announce", "from", from, "error", err)
		}
		return netip.AddrPort{}, false
	}
	if m.Cookie == s.cookie {
		return netip.AddrPort{}, false
	}
	for _, ih := range m.InfoHashes {
		if ih == s.cfg.InfoHash {
			return netip.AddrPortFrom(from.Addr().Unmap(), m.Port), true
		}
	}
	return netip.AddrPort{}, false
}

// Close stops announcing and listening.
func (s *Service) Close() {
	s.cancel()
	s.conn.Close()
	s.wg.Wait()
}
