package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

const verifyUsage = `usage: torrent verify [-dir DIR] FILE.torrent

Hashes every piece of the torrent's data in DIR on all cores, and prints
how complete each file is. Exit status 0 when every piece is good, 1 when
any is missing or bad, 2 for bad input. Nothing on disk is changed.

Flags:
`

func cmdVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("torrent verify", flag.ContinueOnError)
	dir := fs.String("dir", ".", "directory holding the data, as given to the download")
	fs.Usage = func() {
		fmt.Fprint(stderr, verifyUsage)
		printFlags(stderr, fs)
	}
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return badInput("want exactly one FILE.torrent, got %d arguments", fs.NArg())
	}
	m, err := metainfo.Load(fs.Arg(0))
	if err != nil {
		return usageError{err}
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return badInput("-dir %s: not a directory", *dir)
	}
	st, err := storage.Open(*dir, session.Layout(&m.Info, nil))
	if err != nil {
		return badInput("%v", err)
	}
	defer st.Close()
	tty := isTerminal()
	have, err := st.Verify(ctx, func(done, total int) {
		if tty && (done%64 == 0 || done == total) {
			fmt.Fprintf(stderr, "\r\033[Kchecking %d/%d pieces", done, total)
		}
	})
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if bad := printFileCompleteness(os.Stdout, &m.Info, have); bad > 0 {
		return fmt.Errorf("%d of %d pieces missing or bad in %s", bad, m.Info.NumPieces(), *dir)
	}
	return nil
}

// printFileCompleteness prints each file's share of good pieces and a
// summary; it returns the number of pieces missing or bad.
func printFileCompleteness(w io.Writer, info *metainfo.Info, have bitfield.Bitfield) int {
	incomplete := 0
	for _, f := range info.Files {
		first, last := info.PieceRange(f.Offset, f.Length)
		n, good := last-first+1, 0
		for i := first; i <= last; i++ {
			if have.Has(i) {
				good++
			}
		}
		state := "complete"
		switch {
		case n == 0:
			state = "complete (empty)"
		case good == 0:
			state, incomplete = "missing", incomplete+1
		case good < n:
			state, incomplete = fmt.Sprintf("%5.1f%%, %d of %d pieces bad or missing", 100*float64(good)/float64(n), n-good, n), incomplete+1
		}
		fmt.Fprintf(w, "%-40s %s\n", info.RelPath(f), state)
	}
	bad := info.NumPieces() - have.Count()
	fmt.Fprintf(w, "%d of %d pieces good; %d of %d files complete\n", have.Count(), info.NumPieces(), len(info.Files)-incomplete, len(info.Files))
	return bad
}
