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
		var root []byte
		root, err = exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if err != nil {
			return
		}
		mod := strings.TrimSpace(string(root))
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

// Cleanup removes the binaries; call it from TestMain after m.Run.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}
