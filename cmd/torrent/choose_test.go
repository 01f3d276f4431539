package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
)

// threeFiles: odd sizes, so pieces of 32 KiB straddle a|b and b|c.
var threeFiles = []realpeers.FileSpec{
	{Path: "tree/a.bin", Size: 300001},
	{Path: "tree/b.bin", Size: 200003},
	{Path: "tree/sub/c.bin", Size: 150007},
}

// chooseFrom downloads src's torrent from a libtorrent seeder with the
// given -only/-skip flags and -seed=false, which must exit 0 once the
// chosen files are verified; it returns the download directory.
func chooseFrom(t *testing.T, flags ...string) (src, dst, torrent, out string) {
	t.Helper()
	src = t.TempDir()
	realpeers.MakeData(t, src, threeFiles...)
	torrent = realpeers.MakeTorrent(t, src, "", 15)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	dst = t.TempDir()
	args := append(flags, "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	c := startClient(t, args...)
	c.wait(2*time.Minute, 0)
	if !strings.Contains(c.output(), "complete") {
		t.Errorf("no completion in the output:\n%s", c.output())
	}
	out = c.output()
	return src, dst, torrent, out
}

// identical fails unless rel is byte-identical in both directories.
func identical(t *testing.T, a, b, rel string) {
	t.Helper()
	if err := sameFile(filepath.Join(a, rel), filepath.Join(b, rel)); err != nil {
		t.Error(err)
	}
}

// visible lists the files under dir whose names do not start with a dot.
func visible(t *testing.T, dir string) (files, hidden []string) {
	t.Helper()
	for _, p := range treeFiles(t, dir) {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.IsDir() {
			continue
		}
		if strings.HasPrefix(filepath.Base(p), ".") {
			hidden = append(hidden, p)
		} else {
			files = append(files, p)
		}
	}
	return files, hidden
}

// -only one file of three: only it is fetched and created, identical.
func TestOnlyOneFileFromLibtorrent(t *testing.T) {
	t.Parallel()
	src, dst, _, out := chooseFrom(t, "-only", "b.bin", "-json")
	identical(t, src, dst, "tree/b.bin")
	if files, _ := visible(t, dst); !slices.Equal(files, []string{"tree/b.bin"}) {
		t.Errorf("files on disk %v, want only tree/b.bin", files)
	}
	// -json: the start event marks the files not chosen, and progress
	// counts b.bin's pieces (9 to 15) only.
	var skipped []string
	var last map[string]any
	for _, line := range strings.Split(out, "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		switch ev["type"] {
		case "start":
			for _, f := range ev["torrent"].(map[string]any)["files"].([]any) {
				if f := f.(map[string]any); f["skipped"] == true {
					skipped = append(skipped, f["path"].(string))
				}
			}
		case "progress":
			last = ev
		}
	}
	if !slices.Equal(skipped, []string{"tree/a.bin", "tree/sub/c.bin"}) {
		t.Errorf("skipped files in the start event: %v", skipped)
	}
	if last == nil || last["pieces"] != 7.0 || last["pieces_done"] != 7.0 || last["bytes_done"] != last["length"] || last["state"] != "seeding" {
		t.Errorf("last progress event: %v", last)
	}
}

// -skip the middle file: the pieces it shares with a.bin and c.bin are
// fetched, its bytes of them go to the hidden parts file, and it never
// appears.
func TestSkipWithStraddlingPieces(t *testing.T) {
	t.Parallel()
	src, dst, torrent, _ := chooseFrom(t, "-skip", "tree/b.bin")
	identical(t, src, dst, "tree/a.bin")
	identical(t, src, dst, "tree/sub/c.bin")
	files, hidden := visible(t, dst)
	if !slices.Equal(files, []string{"tree/a.bin", "tree/sub/c.bin"}) {
		t.Errorf("files on disk %v, want a.bin and sub/c.bin", files)
	}
	parts := ""
	for _, h := range hidden {
		if strings.HasSuffix(h, ".parts") {
			parts = h
		}
	}
	if parts == "" || strings.Contains(parts, "/") {
		t.Fatalf("no parts file at the top of the directory: hidden files %v", hidden)
	}
	// The parts file holds b.bin's first and last bytes, at their
	// offsets in the torrent.
	b, _ := os.ReadFile(filepath.Join(src, "tree/b.bin"))
	got, err := os.ReadFile(filepath.Join(dst, parts))
	if err != nil || len(got) < 300001+10 || !bytes.Equal(got[300001:300001+10], b[:10]) {
		t.Errorf("parts file (%d bytes, %v) lacks b.bin's first bytes at its offset", len(got), err)
	}
	// Started again with no peer, it finds every chosen piece on disk,
	// the straddling ones through the parts file, and is done at once.
	again := startClient(t, "-skip", "tree/b.bin", "-seed=false", "-dir", dst, torrent)
	again.wait(time.Minute, 0)
	// a.bin is pieces 0-9, c.bin 15-19 of 20: 15 wanted.
	if m := checkedRe.FindStringSubmatch(again.output()); m == nil || m[1] != "15" {
		t.Errorf("restart found %v pieces on disk, want 15:\n%s", m, again.output())
	}
}

// A pattern that matches no file is a usage error naming it.
func TestOnlyPatternMatchingNothing(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, threeFiles...)
	torrent := realpeers.MakeTorrent(t, src, "", 15)
	c := startClient(t, "-only", "b.bin", "-only", "*.iso", "-dir", t.TempDir(), torrent)
	c.wait(30*time.Second, 2)
	if !strings.Contains(c.output(), `-only "*.iso" matches no file`) {
		t.Errorf("output does not name the pattern:\n%s", c.output())
	}
}

// A skipped file is still listed by torfs, and reading it there fetches
// its pieces on demand, after the chosen files are complete and the
// seeder was let go; the file itself never appears in the directory.
func TestTorfsReadsSkippedFileOnDemand(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, threeFiles...)
	torrent := realpeers.MakeTorrent(t, src, "", 15)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	dst, mnt := t.TempDir(), t.TempDir()
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() })
	c := startClient(t, "-skip", "b.bin", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, "-torfs", mnt, torrent)
	waitMounted(t, c, mnt, "tree/b.bin")
	c.waitFor(regexp.MustCompile(`download complete`), time.Minute)
	if got, want := fileSHA1(t, filepath.Join(mnt, "tree/b.bin")), fileSHA1(t, filepath.Join(src, "tree/b.bin")); got != want {
		t.Fatal("b.bin read through the mount differs from the source")
	}
	identical(t, src, dst, "tree/a.bin")
	if _, err := os.Stat(filepath.Join(dst, "tree/b.bin")); !os.IsNotExist(err) {
		t.Errorf("the skipped file is in the directory: %v", err)
	}
}
