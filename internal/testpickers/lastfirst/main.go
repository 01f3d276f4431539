// Command lastfirst is a picker plugin for tests: it ranks the missing
// pieces from the last to the first and ignores urgent pieces, so that
// anything a torfs read gets early was put first by the host, not by the
// picker. It logs every verified piece, in the order the host reports them.
package main

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/sdk"
)

func main() {
	log := hclog.New(&hclog.LoggerOptions{Name: "lastfirst", JSONFormat: true, Level: hclog.Info})
	sdk.ServePicker(lastFirst{log: log}, sdk.WithName("lastfirst"), sdk.WithLogger(log))
}

type lastFirst struct{ log hclog.Logger }

var _ sdk.EventHandler = lastFirst{}

// HandleEvents logs each PieceDone as "verified piece=N".
func (p lastFirst) HandleEvents(_ context.Context, _ *sdk.Swarm, events []sdk.Event) error {
	for _, e := range events {
		if d, ok := e.(sdk.PieceDone); ok {
			p.log.Info("verified", "piece", d.Piece)
		}
	}
	return nil
}

// Pick answers, for each peer that asks, up to w.N pieces it has that we
// lack and want, highest-numbered first.
func (lastFirst) Pick(_ context.Context, s *sdk.Swarm, want []sdk.Want) (sdk.Picks, error) {
	picks := make(sdk.Picks, len(want))
	for _, w := range want {
		var list []int
		for i := s.Torrent().NumPieces - 1; i >= 0 && len(list) < w.N; i-- {
			if !s.Have(i) && s.Wanted(i) && s.PeerHas(w.Peer, i) {
				list = append(list, i)
			}
		}
		picks[w.Peer] = list
	}
	return picks, nil
}
