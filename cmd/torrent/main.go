// Command torrent downloads a torrent and seeds it: one torrent per
// process, data and resume state in the directory it runs in.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/torrent-dev/torrent/host/plugins"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // something went wrong while running
	exitUsage   = 2 // bad flags or bad input
)

// usageError marks errors that are the caller's: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	if os.Getenv("GOGC") == "" {
		// The heap is mostly the bounded set of piece buffers, reused, and
		// little garbage: collecting at 25% growth costs next to nothing
		// and keeps memory flat at any torrent size (docs/performance.md).
		debug.SetGCPercent(25)
	}
	os.Exit(run(os.Args[1:]))
}

// stopSignals end the client cleanly: ^C, a service manager's TERM, and a
// HUP when its terminal goes away (unless started under nohup, which
// ignores HUP: Notify would undo that).
func stopSignals() []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals()...)
	defer stop()
	defer plugins.Cleanup()
	var err error
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "create":
		err = cmdCreate(args[1:])
	case "info":
		err = cmdInfo(args[1:])
	case "demo":
		err = cmdDemo(ctx, args[1:])
	case "mount":
		err = cmdMount(ctx, args[1:])
	case "plugins":
		err = cmdPlugins(args[1:])
	case "status":
		err = cmdStatus(ctx, args[1:])
	case "stop":
		err = cmdStop(ctx, args[1:])
	case "verify":
		err = cmdVerify(ctx, args[1:])
	default:
		err = cmdDownload(ctx, args)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "torrent:", err)
		return exitUsage
	default:
		fmt.Fprintln(os.Stderr, "torrent:", err)
		return exitFailure
	}
}
