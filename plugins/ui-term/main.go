// Command torrent-ui-term is the full-screen terminal interface of
// `torrent -g`: progress, rates, peers, files, a piece map and the log. It
// runs as a plugin; the host's API is its only view of the client.
package main

import (
	"context"
	"fmt"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/torrent-dev/torrent/sdk"
)

func main() { sdk.ServeUI(termUI{}, sdk.WithName("term")) }

type termUI struct{}

const updatesPerSecond = 4

var _ sdk.UI = termUI{}

// Run owns the terminal until the user quits or the host stops. A plugin's
// stdout is a pipe, so the terminal is opened directly.
func (termUI) Run(ctx context.Context, host sdk.Host) error {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open the terminal: %w", err)
	}
	defer tty.Close()
	if saved, err := term.GetState(int(tty.Fd())); err == nil {
		// When the host is gone (or stops us) its shell may print at once:
		// give the line discipline back first, bubbletea does the rest.
		defer context.AfterFunc(ctx, func() { term.Restore(int(tty.Fd()), saved) })()
	}
	out := termenv.NewOutput(tty)
	lipgloss.SetColorProfile(out.EnvColorProfile()) // honours NO_COLOR and dumb terminals
	m := newModel(host)
	// Signals are the SDK's: they end ctx, and bubbletea puts the terminal
	// back on its way out whatever ended it.
	p := tea.NewProgram(m, tea.WithInput(tty), tea.WithOutput(tty), tea.WithAltScreen(), tea.WithMouseCellMotion(), tea.WithContext(ctx), tea.WithoutSignalHandler(),
		// The renderer wakes this often to flush a changed frame; 60 (its
		// default) is wasted on 4 updates a second, 20 still echoes a key
		// within 50 ms.
		tea.WithFPS(20))
	go func() {
		// Four updates a second keep rates and counters live; more only
		// costs CPU in both processes.
		err := host.Watch(ctx, func(u sdk.Update) { p.Send(updateMsg(u)) }, sdk.MaxRate(updatesPerSecond))
		p.Send(hostGoneMsg{err})
	}()
	_, err = p.Run()
	if ctx.Err() != nil { // the host ended the UI
		return nil
	}
	return err
}
