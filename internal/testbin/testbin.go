// Package testbin builds the project's binaries once per test process, so
// end-to-end tests run the same executables a user would.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	once sync.Once
	dir  string
	err  error
	out  []byte
)

// Build builds cmd/torrent as torrent and every plugins/KIND-NAME as
// torrent-KIND-NAME into one directory and returns it.
func Build(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		var mod string
		if mod, err = moduleRoot(); err != nil {
			return
		}
		if dir, err = os.MkdirTemp("", "torrent-bin-"); err != nil {
			return
		}
		targets := map[string]string{"torrent": "./cmd/torrent"}
		plugins, _ := filepath.Glob(filepath.Join(mod, "plugins", "*", "main.go"))
		for _, p := range plugins {
			name := filepath.Base(filepath.Dir(p))
			targets["torrent-"+name] = "./plugins/" + name
		}
		for bin, pkg := range targets {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, bin), pkg)
			cmd.Dir = mod
			if out, err = cmd.CombinedOutput(); err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	return dir
}

// Root is the module's root directory, for tests that use files outside
// their package (examples/, bench/).
func Root(t testing.TB) string {
	t.Helper()
	r, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	return strings.TrimSpace(string(out)), err
}

// BuildPkg builds the main package in dir (relative to the module root; it
// may be a module of its own, like examples/...) as bin/name.
func BuildPkg(t testing.TB, dir, name string) string {
	t.Helper()
	bin := Build(t)
	root := Root(t)
	out := filepath.Join(bin, name)
	extra.Lock()
	defer extra.Unlock()
	if !extra.built[out] {
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = filepath.Join(root, dir)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", dir, err, b)
		}
		extra.built[out] = true
	}
	return out
}

var extra = struct {
	sync.Mutex
	built map[string]bool
}{built: map[string]bool{}}

// Cleanup removes the binaries; call it from TestMain after m.Run.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}
