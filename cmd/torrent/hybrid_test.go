package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/internal/realpeers"
)

// hybridTorrent makes DefaultTree's odd-sized files and a v1+v2 hybrid
// torrent of them with libtorrent 2.0's create_torrent, which pads every
// file to a piece boundary (BEP 47).
func hybridTorrent(t *testing.T) (src, torrent string) {
	t.Helper()
	src = t.TempDir()
	realpeers.MakeData(t, src)
	torrent = realpeers.MakeLibtorrentTorrent(t, filepath.Join(src, "tree"), realpeers.LTHybrid)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Info.Extents) == len(m.Info.Files) {
		t.Fatal("libtorrent made a torrent without pad files")
	}
	return src, torrent
}

// treeFiles lists the regular files and directories under dir, relative.
func treeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// noPads fails if anything named .pad is under dir.
func noPads(t *testing.T, dir string) {
	t.Helper()
	for _, p := range treeFiles(t, dir) {
		if strings.Contains(p, ".pad") {
			t.Errorf("%s is on disk", p)
		}
	}
}

// A libtorrent hybrid seeder (pad files inside and after the data) gives
// us every file byte-identical, and no pad file is created.
func TestHybridFromLibtorrent(t *testing.T) {
	t.Parallel()
	src, torrent := hybridTorrent(t)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	dst := t.TempDir()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	noPads(t, dst)
	want := treeFiles(t, filepath.Join(src, "tree"))
	if got := treeFiles(t, filepath.Join(dst, "tree")); !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if m := checkedRe.FindStringSubmatch(c.output()); m == nil || m[1] != "0" {
		t.Errorf("start-up check: %v", m)
	}
}

// We seed a hybrid torrent to a libtorrent leecher, which gets every file
// byte-identical: our pad bytes are the zeros it hashes.
func TestHybridToLibtorrent(t *testing.T) {
	t.Parallel()
	src, torrent := hybridTorrent(t)
	port := realpeers.FreePort(t)
	c := startClient(t, "-up-rate", "0", "-port", strconv.Itoa(port), "-dir", src, torrent)
	m := c.waitFor(checkedRe, 30*time.Second)
	if m[1] != m[2] {
		t.Fatalf("only %s of %s pieces check on the seeder's data", m[1], m[2])
	}
	dst := t.TempDir()
	leecher := realpeers.StartLibtorrentLeecher(t, torrent, dst, realpeers.LTOptions{ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatalf("libtorrent leecher: %v", err)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	noPads(t, src)
}

// `torrent info` and its -json form list a hybrid's files, not its pads.
func TestHybridInfoHidesPads(t *testing.T) {
	t.Parallel()
	_, torrent := hybridTorrent(t)
	for _, args := range [][]string{{"info", torrent}, {"info", "-json", torrent}} {
		c := startClient(t, args...)
		c.wait(30*time.Second, 0)
		out := c.output()
		if strings.Contains(out, ".pad") || !strings.Contains(out, "deep/d.bin") {
			t.Errorf("torrent %s:\n%s", strings.Join(args, " "), out)
		}
	}
}

// -only on a hybrid torrent: the chosen file is identical, nothing else
// and no pad file is on disk.
func TestHybridOnlyFromLibtorrent(t *testing.T) {
	t.Parallel()
	src, torrent := hybridTorrent(t)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	dst := t.TempDir()
	c := startClient(t, "-only", "sub/deep", "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	c.wait(2*time.Minute, 0)
	identical(t, src, dst, "tree/sub/deep/d.bin")
	noPads(t, dst)
	if files, hidden := visible(t, dst); !slices.Equal(files, []string{"tree/sub/deep/d.bin"}) {
		t.Errorf("files on disk %v (hidden %v), want only tree/sub/deep/d.bin", files, hidden)
	}
}

// torfs over a hybrid torrent's data lists its files and no pad file, and
// reads them right (the data behind pads is never read from disk).
func TestHybridTorfsHidesPads(t *testing.T) {
	t.Parallel()
	src, torrent := hybridTorrent(t)
	b, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "tree.torrent"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	t.Cleanup(func() { exec.Command("fusermount3", "-u", "-z", mnt).Run() })
	c := startMount(t, src, mnt)
	want := treeFiles(t, filepath.Join(src, "tree"))
	if got := treeFiles(t, filepath.Join(mnt, "tree")); !slices.Equal(got, want) {
		t.Errorf("torfs lists %v, want %v", got, want)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(mnt, "tree"))
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	c.wait(30*time.Second, 0)
}
