package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
)

// announceFlag collects repeated -a values, each a tier of one or more
// comma-separated URLs.
type announceFlag [][]string

func (a *announceFlag) String() string {
	var tiers []string
	for _, t := range *a {
		tiers = append(tiers, strings.Join(t, ","))
	}
	return strings.Join(tiers, " ")
}

func (a *announceFlag) Set(s string) error {
	var tier []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			tier = append(tier, u)
		}
	}
	if len(tier) == 0 {
		return fmt.Errorf("no URL in %q", s)
	}
	*a = append(*a, tier)
	return nil
}

func cmdCreate(args []string) error {
	fs := flag.NewFlagSet("torrent create", flag.ContinueOnError)
	var announce announceFlag
	fs.Var(&announce, "a", "tracker announce URL; \"URL,URL\" puts several in one tier (repeatable: one tier each)")
	var webSeeds urlsFlag
	fs.Var(&webSeeds, "w", "web seed URL, http or https (repeatable; BEP 19 url-list)")
	pieceLen := fs.String("piece-length", "", "piece size, e.g. 256KiB or 1MiB (default: chosen from the total size)")
	out := fs.String("o", "", "output file (default: NAME.torrent in the current directory)")
	comment := fs.String("comment", "", "comment stored in the torrent")
	private := fs.Bool("private", false, "set the private flag (BEP 27)")
	source := fs.String("source", "", "source tag stored in the info dictionary (private trackers use it; it changes the info-hash)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: torrent create [-a URL[,URL]]... [-w URL]... [-piece-length N] [-o OUT] PATH\n\n"+
			"Makes a .torrent of a file or a directory. Flags may also follow PATH.\n\nFlags:")
		printFlags(stderr, fs)
	}
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return badInput("want exactly one PATH, got %d arguments", fs.NArg())
	}
	path := fs.Arg(0)
	var pl int64
	if *pieceLen != "" {
		v, err := parseSize(*pieceLen)
		if err != nil {
			return badInput("-piece-length: %v", err)
		}
		if v < 16<<10 || v&(v-1) != 0 {
			return badInput("-piece-length %s: want a power of two of at least 16KiB", *pieceLen)
		}
		pl = v
	}
	for _, u := range webSeeds {
		if !metainfo.UsableWebSeed(u) {
			return badInput("-w %q: want an http or https URL", u)
		}
	}
	if _, err := os.Stat(path); err != nil {
		return badInput("%v", err)
	}
	if *out == "" {
		*out = filepath.Base(filepath.Clean(path)) + ".torrent"
	}
	tty := isTerminal()
	last := time.Now()
	data, err := metainfo.Create(path, metainfo.CreateOptions{
		AnnounceTiers: announce, WebSeeds: webSeeds, PieceLength: pl, Comment: *comment, Private: *private, Source: *source,
		Progress: func(done, total int64) {
			if tty && time.Since(last) > 200*time.Millisecond {
				last = time.Now()
				fmt.Fprintf(stderr, "\rhashing %s of %s", human(done), human(total))
			}
		},
	})
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return badInput("create: %v", err)
	}
	if err := writeFileAtomic(*out, data); err != nil {
		return err
	}
	m, err := metainfo.Parse(data)
	if err != nil {
		return fmt.Errorf("created torrent does not parse: %w", err)
	}
	fmt.Printf("%s\ninfo-hash %x, %d pieces of %s, %s\n", *out, m.InfoHash, m.Info.NumPieces(), human(m.Info.PieceLength), human(m.Info.Length))
	return nil
}

// magnetLink is the torrent's magnet link: info-hash, name, and the
// trackers and web seeds it can use.
func magnetLink(m *metainfo.MetaInfo) string {
	ml := magnet.Magnet{InfoHash: m.InfoHash, Name: m.Info.Name, WebSeeds: m.WebSeeds()}
	for _, tier := range m.Trackers() {
		ml.Trackers = append(ml.Trackers, tier...)
	}
	return ml.String()
}

// writeFileAtomic never leaves a half-written file under the final name.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".torrent-create-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func cmdInfo(args []string) error {
	fs := flag.NewFlagSet("torrent info", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print it as one JSON object (docs/json.md)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: torrent info [-json] FILE.torrent|MAGNET\n\nPrints what a .torrent holds, or what a magnet link says.\n\nFlags:")
		printFlags(stderr, fs)
	}
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return badInput("want exactly one FILE.torrent or MAGNET, got %d arguments", fs.NArg())
	}
	if magnet.IsMagnet(fs.Arg(0)) {
		return magnetInfo(os.Stdout, fs.Arg(0), *asJSON)
	}
	m, err := metainfo.Load(fs.Arg(0))
	if err != nil {
		return usageError{err}
	}
	if *asJSON {
		return infoJSON(os.Stdout, m)
	}
	i := &m.Info
	fmt.Printf("name:         %s\n", i.Name)
	fmt.Printf("info-hash:    %x\n", m.InfoHash)
	if data := i.DataLength(); data != i.Length {
		fmt.Printf("size:         %s (%d bytes; %d more of BEP 47 padding, never stored)\n", human(data), data, i.Length-data)
	} else {
		fmt.Printf("size:         %s (%d bytes)\n", human(i.Length), i.Length)
	}
	fmt.Printf("pieces:       %d of %s\n", i.NumPieces(), human(i.PieceLength))
	if i.Private {
		fmt.Println("private:      yes")
	}
	if m.Comment != "" {
		fmt.Printf("comment:      %s\n", m.Comment)
	}
	if m.CreatedBy != "" {
		fmt.Printf("created by:   %s\n", m.CreatedBy)
	}
	if m.CreationDate != 0 {
		fmt.Printf("created:      %s\n", time.Unix(m.CreationDate, 0).UTC().Format(time.RFC3339))
	}
	if i.Source != "" {
		fmt.Printf("source:       %s\n", i.Source)
	}
	for _, t := range m.AllTrackers() {
		mark := ""
		if !t.Usable {
			mark = "  (not used: unsupported)"
		}
		fmt.Printf("tracker:      tier %d  %s%s\n", t.Tier, t.URL, mark)
	}
	fmt.Printf("magnet:       %s\n", magnetLink(m))
	for _, u := range m.URLList {
		note := ""
		if !metainfo.UsableWebSeed(u) {
			note = " (not used: not an http or https URL)"
		}
		fmt.Printf("web seed:     %s%s\n", u, note)
	}
	fmt.Printf("files:        %d\n", len(i.Files))
	for _, f := range i.Files {
		fmt.Printf("  %12d  %s\n", f.Length, i.RelPath(f))
	}
	return nil
}

func isTerminal() bool { return isattyFd(os.Stderr.Fd()) }
