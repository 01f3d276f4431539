package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// uiLife ends a UI plugin's Run when the plugin must stop on its own: a
// SIGTERM, a SIGHUP (the kernel's signal when the host dies: see
// host/ui), or the host gone however it died. A UI owns the user's
// terminal, so unlike a picker it may not simply exit: its Run's context
// ends, the UI puts the terminal back, and only then does the process
// exit. A nil *uiLife (debug mode: the plugin is its own user's) only runs.
type uiLife struct {
	ctx    context.Context
	mu     sync.Mutex
	active int // Runs in progress
}

// errParentGone is the cause when the host process died.
var errParentGone = errors.New("the host process is gone")

// uiRestoreTimeout bounds how long a stopping plugin waits for its Runs to
// put the terminal back.
const uiRestoreTimeout = 3 * time.Second

// watchUILife starts watching a UI plugin the host started. The kernel's
// signal when the host dies is SIGHUP, not the pickers' SIGKILL, so that it
// can be caught; the host asks for the same when it starts the process.
func watchUILife() *uiLife {
	ctx, cancel := context.WithCancelCause(context.Background())
	l := &uiLife{ctx: ctx}
	// Its stderr is a pipe to the host: once the host is gone a log line
	// would kill the process with SIGPIPE before it put the terminal back.
	signal.Ignore(syscall.SIGPIPE)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		cancel(fmt.Errorf("signal: %v", s))
	}()
	parent := os.Getppid()
	setParentDeathSignal(syscall.SIGHUP)
	go func() {
		// The poll backs up the death signal (not every system has one).
		for range time.Tick(200 * time.Millisecond) {
			if os.Getppid() != parent {
				cancel(errParentGone)
				return
			}
		}
	}()
	go func() {
		<-ctx.Done()
		for deadline := time.Now().Add(uiRestoreTimeout); l.busy() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		os.Exit(0)
	}()
	return l
}

func (l *uiLife) busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active > 0
}

// run calls f with a context that also ends when the plugin must stop.
func (l *uiLife) run(ctx context.Context, f func(context.Context) error) error {
	if l == nil {
		return f(ctx)
	}
	l.mu.Lock()
	l.active++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.active--
		l.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(l.ctx, cancel)()
	err := f(ctx)
	if cause := context.Cause(l.ctx); cause != nil {
		return fmt.Errorf("ui plugin stopped: %w", cause)
	}
	return err
}
