// Command torrent-torfs mounts a torrent's files as a read-only filesystem
// (FUSE, go-fuse) so they can be used in place, even while they download:
// a read of missing data waits for its pieces, which jump the download
// queue, with a readahead window that grows over sequential reads.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/torrent-dev/torrent/sdk"
)

func main() { sdk.ServeFS(&torfs{}) }

type torfs struct {
	mu     sync.Mutex
	server *fuse.Server
}

var _ sdk.FS = (*torfs)(nil)

// Mount builds the tree from the host's torrents and mounts it.
func (t *torfs) Mount(ctx context.Context, files sdk.Files, mountpoint string, perTorrentDirs bool) error {
	torrents, err := files.Torrents(ctx)
	if err != nil {
		return fmt.Errorf("list torrents: %w", err)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("FUSE is not available (/dev/fuse: %v)", err)
	}
	if err := CleanStale(mountpoint); err != nil {
		return err
	}
	root := &dirNode{}
	timeout := time.Hour // the tree and sizes never change while mounted
	srv, err := fs.Mount(mountpoint, root, &fs.Options{
		EntryTimeout: &timeout, AttrTimeout: &timeout,
		OnAdd: func(ctx context.Context) { build(ctx, root, files, torrents, perTorrentDirs) },
		MountOptions: fuse.MountOptions{
			FsName: "torfs", Name: "torfs", Options: []string{"ro", "default_permissions"},
			MaxReadAhead: 1 << 20, DisableXAttrs: true,
		},
	})
	if err != nil {
		return fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	t.mu.Lock()
	t.server = srv
	t.mu.Unlock()
	return nil
}

// Unmount unmounts, lazily if files are still open.
func (t *torfs) Unmount() error {
	t.mu.Lock()
	srv := t.server
	t.server = nil
	t.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Unmount(); err != nil {
		return fmt.Errorf("unmount: %w", err)
	}
	srv.Wait()
	return nil
}

// CleanStale unmounts a mount left behind by a killed process (its
// directory answers ENOTCONN, or ECONNABORTED just after the kill).
// Listing the directory asks the (dead) daemon; a stat could be answered
// from the kernel's attribute cache. A torfs mount that does not answer at
// all is stale too: a daemon killed while go-fuse held a file of its own
// mount open never finishes exiting, so its connection never breaks.
func CleanStale(dir string) error {
	listed := make(chan error, 1)
	go func() { _, err := os.ReadDir(dir); listed <- err }()
	var err error
	select {
	case err = <-listed:
	case <-time.After(3 * time.Second):
		if !isTorfsMount(dir) {
			return nil // someone else's slow filesystem: not ours to unmount
		}
		err = syscall.ENOTCONN // the listing stays blocked until the plugin exits
	}
	if !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		return nil
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if out, err := exec.Command(bin, "-u", "-z", dir).CombinedOutput(); err == nil {
			return nil
		} else if !errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("clean stale mount %s: %v: %s", dir, err, strings.TrimSpace(string(out)))
		}
	}
	return fmt.Errorf("stale mount at %s and no fusermount to clean it", dir)
}

// isTorfsMount says whether dir is the mountpoint of a torfs mount.
func isTorfsMount(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		// id parent dev root MOUNTPOINT options... - FSTYPE source options
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) > 4 && sep > 0 && sep+1 < len(f) && unescapeMount(f[4]) == abs && f[sep+1] == "fuse.torfs" {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// build adds every torrent's files under root.
func build(ctx context.Context, root *dirNode, files sdk.Files, torrents []sdk.TorrentInfo, perTorrentDirs bool) {
	used := map[string]bool{}
	for ti, t := range torrents {
		mtime := time.Unix(t.Created, 0)
		base := ""
		if perTorrentDirs {
			base = t.Name
			for n := 2; used[base]; n++ {
				base = fmt.Sprintf("%s (%d)", t.Name, n)
			}
			used[base] = true
		}
		for _, f := range t.Files {
			p := f.Path
			if perTorrentDirs {
				p = path.Join(base, strings.TrimPrefix(p, t.Name+"/"))
			}
			dir := root.EmbeddedInode()
			parts := strings.Split(p, "/")
			for _, d := range parts[:len(parts)-1] {
				child := dir.GetChild(d)
				if child == nil {
					child = dir.NewPersistentInode(ctx, &dirNode{mtime: mtime}, fs.StableAttr{Mode: fuse.S_IFDIR})
					dir.AddChild(d, child, true)
				}
				dir = child
			}
			node := &fileNode{files: files, torrent: ti, offset: f.Offset, size: f.Length, mtime: mtime,
				disk: filepath.Join(t.Dir, filepath.FromSlash(f.Path))}
			dir.AddChild(parts[len(parts)-1], dir.NewPersistentInode(ctx, node, fs.StableAttr{Mode: fuse.S_IFREG}), true)
		}
	}
}

type dirNode struct {
	fs.Inode
	mtime time.Time
}

var _ fs.NodeGetattrer = (*dirNode)(nil)

func (d *dirNode) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = fuse.S_IFDIR | 0o555
	out.SetTimes(nil, &d.mtime, &d.mtime)
	return 0
}
