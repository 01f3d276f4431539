// Package testtracker runs Debian's opentracker on loopback for tests.
package testtracker

import (
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tracker is a running opentracker.
type Tracker struct {
	HTTP string // http://127.0.0.1:PORT/announce
	UDP  string // udp://127.0.0.1:PORT
}

// Start runs opentracker serving the given info-hashes (it is built with a
// whitelist) until the test ends.
func Start(t testing.TB, infoHashes ...[20]byte) *Tracker {
	t.Helper()
	dir, err := os.MkdirTemp("", "opentracker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// opentracker drops root and chroots to dir: nobody must read it.
	os.Chmod(dir, 0o755)
	var wl strings.Builder
	for _, h := range infoHashes {
		fmt.Fprintln(&wl, hex.EncodeToString(h[:]))
	}
	if err := os.WriteFile(filepath.Join(dir, "wl.txt"), []byte(wl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command("opentracker", "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-P", fmt.Sprint(port),
		"-d", dir, "-w", "wl.txt", "-u", "nobody")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start opentracker: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("opentracker did not start listening on %s: %s", addr, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(infoHashes) > 0 {
		waitWhitelist(t, addr, infoHashes[0], out)
	}
	return &Tracker{HTTP: "http://" + addr + "/announce", UDP: "udp://" + addr}
}

// waitWhitelist waits until opentracker, which loads its whitelist after it
// starts listening, takes an announce for ih. The announce says "stopped"
// so that it leaves no peer behind.
func waitWhitelist(t testing.TB, addr string, ih [20]byte, out fmt.Stringer) {
	t.Helper()
	var q strings.Builder
	for _, b := range ih {
		fmt.Fprintf(&q, "%%%02X", b) // every byte escaped: no question of '+' or ' '
	}
	u := fmt.Sprintf("http://%s/announce?info_hash=%s&peer_id=-WT0000-000000000000&port=1&left=0&event=stopped&compact=1", addr, q.String())
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(u)
		body := ""
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			body = string(b)
			if resp.StatusCode == http.StatusOK && !strings.Contains(body, "failure reason") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("opentracker on %s never took an announce for %x: %v %q; output: %s", addr, ih, err, body, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort finds a port free for both TCP and UDP.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}
