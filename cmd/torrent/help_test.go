package main

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Every subcommand's -h lists each flag it takes with a one-line example,
// and the flags listed are exactly those flagExamples knows.
func TestHelpExamples(t *testing.T) {
	t.Parallel()
	flagLine := regexp.MustCompile(`^  -([a-z-]+)`)
	for name := range flagExamples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := append(strings.Fields(name)[1:], "-h")
			out, code := runTorrent(t, t.TempDir(), args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			var listed []string
			lines := strings.Split(out, "\n")
			for i, l := range lines {
				m := flagLine.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				listed = append(listed, m[1])
				example := ""
				for _, next := range lines[i+1:] {
					if flagLine.MatchString(next) {
						break
					}
					if _, ex, ok := strings.Cut(next, "e.g. "+name+" "); ok && strings.HasPrefix(next, "    \t") {
						example = ex
					}
				}
				if !strings.Contains(" "+example, " -"+m[1]) {
					t.Errorf("-%s has no one-line example using it:\n%s", m[1], out)
				}
			}
			var known []string
			for f := range flagExamples[name] {
				known = append(known, f)
			}
			sort.Strings(known)
			if strings.Join(listed, " ") != strings.Join(known, " ") {
				t.Errorf("-h lists %v, the examples cover %v", listed, known)
			}
		})
	}
}

// An unknown flag is one line that names the subcommand's help, without
// the whole usage; a flag after FILE.torrent says flags go first.
func TestUnknownFlag(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args []string
		want string
	}{
		"download":   {[]string{"-nope", "x.torrent"}, "flag provided but not defined: -nope (see torrent -h)"},
		"create":     {[]string{"create", "-nope", "p"}, "(see torrent create -h)"},
		"info":       {[]string{"info", "-g", "x.torrent"}, "(see torrent info -h)"},
		"mount":      {[]string{"mount", "-nope"}, "(see torrent mount -h)"},
		"demo":       {[]string{"demo", "-nope"}, "(see torrent demo -h)"},
		"status":     {[]string{"status", "-nope"}, "(see torrent status -h)"},
		"stop":       {[]string{"stop", "-nope"}, "(see torrent stop -h)"},
		"plugins":    {[]string{"plugins", "-nope"}, "(see torrent plugins -h)"},
		"flag after": {[]string{"x.torrent", "-g"}, "flags go before MAGNET or FILE.torrent: torrent -g x.torrent (see torrent -h)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, code := runTorrent(t, t.TempDir(), tc.args...)
			if code != 2 || !strings.Contains(out, tc.want) || strings.Contains(out, "usage:") || strings.Count(out, "\n") != 1 {
				t.Fatalf("exit %d, want 2 and one line with %q:\n%s", code, tc.want, out)
			}
		})
	}
}
