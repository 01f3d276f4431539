package main

import (
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a`:         "/tmp/a",
		`/tmp/my\040dir`: "/tmp/my dir",
		`/tmp/tab\011x`:  "/tmp/tab\tx",
		`/tmp/bad\04`:    `/tmp/bad\04`,
		`/tmp/x\134y`:    `/tmp/x\y`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// A plain directory is no torfs mount, so a slow listing of it is never
// taken for a stale mount.
func TestIsTorfsMountPlainDir(t *testing.T) {
	if isTorfsMount(t.TempDir()) {
		t.Fatal("a temporary directory taken for a torfs mount")
	}
}

func TestIsTorfsMount(t *testing.T) {
	dir := t.TempDir()
	srv, err := fs.Mount(dir, &dirNode{}, &fs.Options{MountOptions: fuse.MountOptions{FsName: "torfs", Name: "torfs"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Unmount(); srv.Wait() }()
	if !isTorfsMount(dir) {
		t.Fatal("a torfs mount not recognised")
	}
}
