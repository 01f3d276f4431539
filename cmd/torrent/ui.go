package main

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/ui"
	"github.com/torrent-dev/torrent/sdk"
)

// How long stopping waits for the UI plugin to leave the terminal: first
// after its host API stream ends, then after its Run call is cancelled.
const (
	uiLeaveTimeout  = 3 * time.Second
	uiCancelTimeout = 2 * time.Second
)

// startUI runs the UI plugin with -g. While it owns the terminal the log
// goes to the ring (and -log file) only. If it is missing or dies, the
// console output takes over and the log says why; when the user leaves it,
// the client quits. The returned func stops the UI and waits until the
// terminal is as it was before, so what the client prints next is seen.
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
		saved.takeBack()
		con.quiet.Store(false)
		cancel()
		log.Warn("terminal UI unavailable; showing console output", "error", err)
		return nil
	}
	var stopping atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if err := <-r.Done; err == nil {
			srv.Quit(ctx, nil) // the user left the UI: quit the client
		} else if !stopping.Load() && ctx.Err() == nil {
			saved.takeBack()
			con.quiet.Store(false)
			log.Warn("terminal UI plugin failed; showing console output", "plugin", spec, "path", r.Path, "cause", err)
		}
	}()
	return func() {
		stopping.Store(true)
		srv.EndWatches() // the UI sees its stream end, leaves the terminal and returns
		select {
		case <-finished:
		case <-time.After(uiLeaveTimeout):
			cancel()
			select {
			case <-finished:
			case <-time.After(uiCancelTimeout):
			}
		}
		cancel()
		r.Kill()
		saved.takeBack() // a plugin that died or hung left it in raw mode
		con.quiet.Store(false)
	}
}

// termState is the terminal as it was before a UI plugin took it.
type termState struct {
	fd    int
	saved *unix.Termios
	once  *sync.Once
}

func saveTerminal() termState {
	fd := int(os.Stderr.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return termState{fd: -1, once: new(sync.Once)}
	}
	return termState{fd: fd, saved: t, once: new(sync.Once)}
}

// terminalReset undoes what a full-screen UI may have turned on: mouse
// reports (X10, button, any-motion, SGR), bracketed paste, focus reports,
// a hidden cursor and the alternate screen (leaving it restores the cursor
// to where it was when the UI started).
const terminalReset = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1004l\x1b[?25h\x1b[?1049l"

// takeBack restores the terminal if the UI plugin did not: its raw mode is
// the sign. A UI that restored the terminal itself has left the alternate
// screen already, and leaving it twice would move the cursor back over
// what was printed since; so a terminal in its old mode is left alone.
func (t termState) takeBack() {
	t.once.Do(func() {
		if t.saved == nil {
			return
		}
		now, err := unix.IoctlGetTermios(t.fd, unix.TCGETS)
		if err != nil || sameMode(now, t.saved) {
			return
		}
		unix.IoctlSetTermios(t.fd, unix.TCSETS, t.saved)
		os.Stderr.WriteString(terminalReset)
	})
}

// sameMode compares the flags a raw mode changes.
func sameMode(a, b *unix.Termios) bool {
	return a.Iflag == b.Iflag && a.Oflag == b.Oflag && a.Lflag == b.Lflag && a.Cflag == b.Cflag
}
