package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/torrent-dev/torrent/sdk"
)

// errHelp is -h: usage was printed, exit 0.
var errHelp = errors.New("help requested")

// parseFlags parses args into fs, turning flag errors into usage errors.
// A bad flag gets one line that names the help to read, not the whole
// usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return errHelp
	case err != nil:
		return usageError{fmt.Errorf("%w (see %s -h)", err, fs.Name())}
	}
	return nil
}

// parseInterspersed is parseFlags with flags allowed after the arguments
// as well as before (torrent create PATH -a URL); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// rateFlag is a byte rate like 24KB, 10MB, 1.5MiB or 0.
type rateFlag int64

func (r *rateFlag) String() string { return formatRate(int64(*r)) }

func (r *rateFlag) Set(s string) error {
	v, err := parseSize(s)
	if err != nil {
		return err
	}
	*r = rateFlag(v)
	return nil
}

// parseSize reads 24KB, 10MB, 1GiB, 512 (bytes). K/M/G are powers of
// 1000, Ki/Mi/Gi powers of 1024; a trailing B or /s is optional.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "b")
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a size like 24KB, 10MB or 0", s)
	}
	return int64(v * mult), nil
}

func formatRate(v int64) string {
	switch {
	case v == 0:
		return "0"
	case v%1e6 == 0:
		return fmt.Sprintf("%dMB", v/1e6)
	case v%1e3 == 0:
		return fmt.Sprintf("%dKB", v/1e3)
	}
	return strconv.FormatInt(v, 10)
}

// peersFlag collects repeated -peer HOST:PORT values.
type peersFlag []netip.AddrPort

func (p *peersFlag) String() string { return fmt.Sprint([]netip.AddrPort(*p)) }

func (p *peersFlag) Set(s string) error {
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		if strings.HasPrefix(s, "localhost:") {
			a, err = netip.ParseAddrPort("127.0.0.1:" + strings.TrimPrefix(s, "localhost:"))
		}
		if err != nil {
			return fmt.Errorf("%q is not HOST:PORT with a numeric IP", s)
		}
	}
	*p = append(*p, a)
	return nil
}

// patternsFlag collects repeated -only / -skip patterns.
type patternsFlag []string

func (p *patternsFlag) String() string     { return strings.Join(*p, " ") }
func (p *patternsFlag) Set(s string) error { *p = append(*p, s); return nil }

// human formats a byte count for people.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// reattachFlags are the -KIND-reattach values: plugins started by hand in
// debug mode (sdk.DebugEnv), one flag per kind.
type reattachFlags struct{ picker, ui, torfs string }

// debugPlugins are the parsed reattach lines; nil where none was given.
type debugPlugins struct{ picker, ui, torfs *sdk.Reattach }

func (r reattachFlags) parse() (debugPlugins, error) {
	var d debugPlugins
	for _, f := range []struct {
		flag, kind, value string
		to                **sdk.Reattach
	}{
		{"-picker-reattach", sdk.PickerKind, r.picker, &d.picker},
		{"-ui-reattach", sdk.UIKind, r.ui, &d.ui},
		{"-torfs-reattach", sdk.FSKind, r.torfs, &d.torfs},
	} {
		if f.value == "" {
			continue
		}
		rc, err := sdk.ParseReattach(f.value)
		if err != nil {
			return d, badInput("%s: %v", f.flag, err)
		}
		if rc.Kind != "" && rc.Kind != f.kind {
			return d, badInput("%s: the line is for a %s plugin", f.flag, rc.Kind)
		}
		*f.to = &rc
	}
	return d, nil
}
