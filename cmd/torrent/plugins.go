package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/torrent-dev/torrent/host/plugins"
)

// cmdPlugins lists the plugins the client finds and whether each works.
func cmdPlugins(args []string) error {
	fs := flag.NewFlagSet("torrent plugins", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: torrent plugins\n\nLists plugin executables (torrent-KIND-NAME) next to the torrent binary, in\n$TORRENT_PLUGIN_DIR and on $PATH, starts each to check its handshake, and says\nwhy one cannot be used.")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	found := plugins.List()
	if len(found) == 0 {
		fmt.Println("no plugins found")
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAME\tPROTOCOL\tPATH\tSTATUS")
	for _, f := range found {
		status, proto := "ok", fmt.Sprint(f.Version)
		if f.Err != nil {
			msg, _, _ := strings.Cut(f.Err.Error(), "\n") // go-plugin adds paragraphs of advice
			status, proto = "unusable: "+msg, "-"
		}
		name := f.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Kind, name, proto, f.Path, status)
	}
	return w.Flush()
}
