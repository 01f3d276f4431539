package swarm

import "time"

// SetRequestTimeouts changes, before Run, when a silent peer's requests
// are freed (default 20 s) and when the peer is dropped (60 s): a loopback
// test waits for the first without waiting 20 s, or rules both out.
func SetRequestTimeouts(s *Swarm, release, drop time.Duration) {
	s.dl.release, s.dl.drop = release, drop
}

// SetPieceMemory changes, before Run, how many bytes of piece buffers may
// be held at once (default 16 MiB; never under four pieces): a test fills
// the budget with a few small pieces.
func SetPieceMemory(s *Swarm, n int64) { s.dl.pieces.memory = n }
