package swarm

import "time"

// SetRequestTimeouts changes, before Run, when a silent peer's requests
// are freed (default 20 s) and when the peer is dropped (60 s): a loopback
// test waits for the first without waiting 20 s, or rules both out.
func SetRequestTimeouts(s *Swarm, release, drop time.Duration) {
	s.dl.release, s.dl.drop = release, drop
}
