// Package tmpfs mounts small real filesystems for tests: a tmpfs with a
// size limit fills up like a real disk (ENOSPC on write) and can be grown
// while files on it are open. Mounting needs root, which the development
// machines and CI have; without it the test fails, it does not skip.
package tmpfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// FS is a mounted tmpfs.
type FS struct {
	Dir string
	t   testing.TB
}

// Mount mounts a tmpfs of size bytes (a mount option such as "8m") on a
// new directory, unmounted when the test ends. Register it before anything
// that keeps files open on it: cleanups run last-in first-out.
func Mount(t testing.TB, size string) *FS {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs of %s (needs root): %v\n%s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// Something still holds a file open: detach it now, it goes
			// when the last file is closed.
			t.Errorf("umount %s: %v\n%s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return &FS{Dir: dir, t: t}
}

// Resize changes the filesystem's size limit in place; open files stay open.
func (fs *FS) Resize(size string) {
	fs.t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,size="+size, fs.Dir).CombinedOutput(); err != nil {
		fs.t.Fatalf("remount %s with size %s: %v\n%s", fs.Dir, size, err, out)
	}
}

// Free is the bytes still free on the filesystem.
func (fs *FS) Free() int64 {
	fs.t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(fs.Dir, &st); err != nil {
		fs.t.Fatalf("statfs %s: %v", fs.Dir, err)
	}
	return int64(st.Bavail) * st.Bsize
}
