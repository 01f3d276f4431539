package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/ui"
	"github.com/torrent-dev/torrent/sdk"
)

// startUI runs the UI plugin with -g. While it owns the terminal the log
// goes to the ring (and -log file) only. If it is missing or dies, the
// console output takes over and the log says why; when the user leaves it,
// the client quits. The returned func stops the UI and waits for it.
func startUI(ctx context.Context, con *console, srv *hostapi.Server, spec string, reattach *sdk.Reattach) (stop func()) {
	log := con.logger.Named("ui")
	// A debug-mode UI draws on the terminal it was started in, not ours.
	ours := reattach == nil
	if ours && !isTerminal() {
		log.Warn("-g needs a terminal; showing console output")
		return nil
	}
	saved := termState{fd: -1, once: new(sync.Once)}
	if ours {
		saved = saveTerminal()
		con.quiet.Store(true)
	}
	uiCtx, cancel := context.WithCancel(context.Background())
	r, err := ui.Start(uiCtx, ui.Config{Spec: spec, Reattach: reattach, Logger: log, Host: srv})
	if err != nil {
		con.quiet.Store(false)
		cancel()
		log.Warn("terminal UI unavailable; showing console output", "error", err)
		return nil
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case err := <-r.Done:
			if err == nil {
				srv.Quit(ctx, nil) // the user left the UI: quit the client
				return
			}
			saved.restore()
			con.quiet.Store(false)
			if ctx.Err() == nil {
				log.Warn("terminal UI plugin failed; showing console output", "plugin", spec, "path", r.Path, "cause", err)
			}
		case <-uiCtx.Done():
		}
	}()
	return func() {
		cancel() // the plugin restores the terminal when its Run ends
		select {
		case <-finished:
		case <-time.After(3 * time.Second):
			saved.restore() // it hangs: take the terminal back
		}
		r.Kill()
		con.quiet.Store(false)
	}
}

// termState is the terminal's mode before a UI plugin took it, restored if
// the plugin dies without doing so.
type termState struct {
	fd    int
	state *term.State
	once  *sync.Once
}

func saveTerminal() termState {
	fd := int(os.Stdin.Fd())
	st, err := term.GetState(fd)
	if err != nil {
		return termState{fd: -1, once: new(sync.Once)}
	}
	return termState{fd: fd, state: st, once: new(sync.Once)}
}

// restore runs once: leaving the alternate screen twice would move the
// cursor back over later output.
func (t termState) restore() {
	t.once.Do(func() {
		if t.state != nil {
			term.Restore(t.fd, t.state)
			fmt.Fprint(os.Stderr, "\x1b[?1049l\x1b[?25h") // leave the alternate screen, show the cursor
		}
	})
}
