package sdk

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/torrent-dev/torrent/proto/uipb"
)

// terminalUI stands for a UI that owns the terminal: Run holds it until
// its context ends or the test lets it go, then puts it back.
type terminalUI struct {
	running  chan struct{} // closed once Run holds the terminal
	release  chan error    // Run returns what it receives
	restored chan error    // what ended Run's context (nil if not ended)
}

func newTerminalUI() *terminalUI {
	return &terminalUI{running: make(chan struct{}), release: make(chan error, 1), restored: make(chan error, 1)}
}

func (u *terminalUI) Run(ctx context.Context, _ Host) error {
	close(u.running)
	select {
	case <-ctx.Done():
		u.restored <- ctx.Err()
		return ctx.Err()
	case err := <-u.release:
		u.restored <- nil
		return err
	}
}

// recv receives from c, failing the test if nothing comes within a bound
// only a hang can reach (debugStartBound).
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(debugStartBound):
		t.Fatalf("%s never came", what)
		panic("unreachable")
	}
}

// runUI serves ui with life over the plugin plumbing and starts the host's
// Run call; the returned channel gives its error.
func runUI(t *testing.T, ui UI, life *uiLife, ctx context.Context) <-chan error {
	t.Helper()
	hs := connect(t, UIKind, func(b *plugin.GRPCBroker, s *grpc.Server) {
		uipb.RegisterUIServer(s, &uiServer{impl: ui, life: life, broker: b})
	})
	id := serveHost(hs, &fakeHost{quit: make(chan struct{})})
	errc := make(chan error, 1)
	go func() {
		_, err := uipb.NewUIClient(hs.conn).Run(ctx, &uipb.RunRequest{HostBrokerId: id})
		errc <- err
	}()
	return errc
}

// When a hosted UI plugin must stop (a signal, the host gone), its Run's
// context ends so it can put the terminal back; while a Run is in progress
// the plugin counts as busy (watchUILife waits for that before exiting);
// the host's Run call fails with the cause.
func TestUILifeStopEndsRun(t *testing.T) {
	t.Parallel()
	lifeCtx, stop := context.WithCancelCause(context.Background())
	life := &uiLife{ctx: lifeCtx}
	ui := newTerminalUI()
	errc := runUI(t, ui, life, context.Background())
	recv(t, ui.running, "the UI's Run")
	if !life.busy() {
		t.Fatal("a Run in progress does not count as busy: the plugin could exit with the terminal raw")
	}
	stop(errParentGone)
	if err := recv(t, ui.restored, "the end of Run"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run's context ended with %v, want context.Canceled", err)
	}
	err := recv(t, errc, "the host's Run answer")
	if err == nil || !strings.Contains(err.Error(), "ui plugin stopped") || !strings.Contains(err.Error(), errParentGone.Error()) {
		t.Fatalf("host's Run: %v, want the stop and its cause", err)
	}
	if life.busy() {
		t.Fatal("busy after Run returned: the plugin would wait out uiRestoreTimeout")
	}
}

// While the plugin goes on, Run ends the UI's way: its own error, or none,
// or the host cancelling the call; the plugin is busy only meanwhile.
func TestUILifeRunEndsOnItsOwn(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		ret     error // what the UI returns when released; unused if cancel
		cancel  bool  // the host cancels its call instead
		wantErr string
	}{
		"user quits":        {},
		"ui fails":          {ret: errors.New("terminal gone"), wantErr: "terminal gone"},
		"host cancels call": {cancel: true, wantErr: "Canceled"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			life := &uiLife{ctx: context.Background()}
			ui := newTerminalUI()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := runUI(t, ui, life, ctx)
			recv(t, ui.running, "the UI's Run")
			if tc.cancel {
				cancel()
			} else {
				ui.release <- tc.ret
			}
			restored := recv(t, ui.restored, "the end of Run")
			if tc.cancel != (restored != nil) {
				t.Fatalf("Run's context ended with %v; the host cancelled: %v", restored, tc.cancel)
			}
			err := recv(t, errc, "the host's Run answer")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("host's Run: %v, want %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "ui plugin stopped") {
				t.Fatalf("host's Run: %v, but the plugin was not stopped", err)
			}
			if !tc.cancel && life.busy() {
				t.Fatal("busy after Run returned")
			}
		})
	}
}
