package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/torrent-dev/torrent/internal/testbin"
)

// The Python example (examples/picker-python: go-plugin's handshake, mutual
// TLS and the picker protocol by hand, with Debian's python3-grpcio) drives
// a whole download, and the client never falls back to its built-in picker.
func TestPythonExamplePicker(t *testing.T) {
	t.Parallel()
	script := filepath.Join(testbin.Root(t), "examples", "picker-python", "picker.py")
	// Not a skip: CI installs these (.ci/run); say plainly what is missing.
	if b, err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf, cryptography").CombinedOutput(); err != nil {
		t.Fatalf("the Python picker needs Debian's python3-grpcio, python3-protobuf and python3-cryptography: %v\n%s", err, b)
	}
	out := downloadWithPicker(t, script)
	if !regexp.MustCompile(`picker plugin running: .*name=python-rarest-first`).MatchString(out) {
		t.Fatalf("the Python picker never ran:\n%s", out)
	}
	// Its own log line, relayed by go-plugin: it answered the client.
	if !strings.Contains(out, "first picks sent") {
		t.Fatalf("the Python picker never answered:\n%s", out)
	}
	for _, fallback := range []string{"picker plugin not found", "picker plugin did not start", "picker plugin failed", "answered badly"} {
		if strings.Contains(out, fallback) {
			t.Fatalf("the built-in picker stood in (%q):\n%s", fallback, out)
		}
	}
}
