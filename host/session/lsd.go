package session

import (
	"net"
	"net/netip"

	"github.com/torrent-dev/torrent/host/lsd"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
)

// startLSD announces the torrent on the local network (BEP 14) and feeds
// the peers that announce it to add. It does nothing for a private
// torrent (BEP 27), without Options.LSD, or where multicast cannot be used
// (said once in the log).
func (s *Session) startLSD(add func(addrbook.Source, []netip.AddrPort)) (stop func()) {
	if m := s.Meta(); s.opts.LSD == nil || m == nil || m.Info.Private || s.opts.Listener == nil {
		return func() {}
	}
	a, ok := s.opts.Listener.Addr().(*net.TCPAddr)
	if !ok {
		return func() {}
	}
	cfg := *s.opts.LSD
	cfg.InfoHash, cfg.Port, cfg.Logger = s.infoHash, a.Port, s.log.Named("lsd")
	svc, err := lsd.Start(cfg, func(addrs []netip.AddrPort) { add(addrbook.LSD, addrs) })
	if err != nil {
		s.log.Info("local peer discovery is off", "reason", err)
		return func() {}
	}
	return svc.Close
}
