package sdk

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/internal/logbuf"
	"github.com/torrent-dev/torrent/proto/pickerpb"
)

// brokenHandler is a picker whose incremental state fails to update.
type brokenHandler struct{ recorder }

func (*brokenHandler) HandleEvents(context.Context, *Swarm, []Event) error {
	return errors.New("state out of step")
}

// A picker's failures are the plugin's to log, never the session's end:
// a failing HandleEvents still gets its Pick called and answered, a
// failing Pick answers nothing picked; each says why in the plugin's log.
func TestPickerServerLogsFailures(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		p       Picker
		picked  int // pieces in the answer
		wantLog string
	}{
		"events":   {p: &brokenHandler{}, picked: 2, wantLog: "state out of step"},
		"pick":     {p: &recorder{fail: true}, picked: 0, wantLog: "picker broke"},
		"all well": {p: &recorder{}, picked: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var log logbuf.Buffer
			hs := connect(t, PickerKind, func(_ *plugin.GRPCBroker, s *grpc.Server) {
				pickerpb.RegisterPickerServer(s, &pickerServer{impl: tc.p, log: hclog.New(&hclog.LoggerOptions{Output: &log})})
			})
			st, err := pickerpb.NewPickerClient(hs.conn).Session(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			snap := &pickerpb.Snapshot{Torrent: testTorrent, Have: bits(10).Bytes(), Peers: []*pickerpb.PeerBitfield{{Peer: 1, Have: bits(10, 4, 7).Bytes()}}}
			for seq := uint64(1); seq <= 2; seq++ {
				b := &pickerpb.Batch{Seq: seq, Want: []*pickerpb.Want{{Peer: 1, Count: 3}}}
				if seq == 1 {
					b.Snapshot = snap
				}
				if err := st.Send(b); err != nil {
					t.Fatal(err)
				}
				p, err := st.Recv()
				if err != nil || p.Seq != seq {
					t.Fatalf("batch %d: %v, %v", seq, p, err)
				}
				n := 0
				for _, pp := range p.Peers {
					n += len(pp.Pieces)
				}
				if n != tc.picked {
					t.Fatalf("batch %d: %d pieces picked, want %d", seq, n, tc.picked)
				}
			}
			if got := log.String(); tc.wantLog != "" && !strings.Contains(got, tc.wantLog) || tc.wantLog == "" && strings.Contains(got, "[ERROR]") {
				t.Fatalf("plugin log %q, want %q", got, tc.wantLog)
			}
		})
	}
}

// The host closing its side of a session ends it cleanly (a picker
// restarted by the host opens a new one): the stream ends without error.
func TestPickerServerSessionEnds(t *testing.T) {
	t.Parallel()
	st := startPickerSession(t, &recorder{})
	if err := st.Send(&pickerpb.Batch{Seq: 1, Snapshot: noneYet()}); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the host closed the session: %v, %v; want the stream's clean end", p, err)
	}
}
