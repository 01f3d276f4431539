// Package realpeers starts real BitTorrent clients (libtorrent through
// Debian's python3-libtorrent, aria2, Transmission) and makes test data and torrents
// (mktorrent), for tests on loopback. Every process a test starts is killed
// when the test ends.
package realpeers

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

//go:embed ltpeer.py
var ltScript string

// FileSpec is one file of generated test data.
type FileSpec struct {
	Path string
	Size int64
}

// DefaultTree is a multi-file torrent with a 0-byte file and odd sizes.
var DefaultTree = []FileSpec{
	{"tree/a.bin", 3<<20 + 7},
	{"tree/empty", 0},
	{"tree/sub/b.bin", 16383},
	{"tree/sub/c", 1},
	{"tree/sub/deep/d.bin", 262145},
	{"tree/z.bin", 9<<20 + 12345},
}

// MakeData writes random files under dir (DefaultTree when no spec).
func MakeData(t testing.TB, dir string, spec ...FileSpec) {
	t.Helper()
	if len(spec) == 0 {
		spec = DefaultTree
	}
	rng := rand.NewChaCha8([32]byte{byte(len(spec)), 42})
	for _, f := range spec {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(out, rng, f.Size); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// MakeTorrent runs mktorrent on path (a file, a directory, or a dir whose
// only entry is the tree: MakeData's "tree") with pieces of 2^pieceLog
// bytes. mktorrent insists on an announce URL: without one a dead
// loopback address is used.
func MakeTorrent(t testing.TB, path, announce string, pieceLog int) string {
	t.Helper()
	if st, err := os.Stat(filepath.Join(path, "tree")); err == nil && st.IsDir() {
		path = filepath.Join(path, "tree")
	}
	if announce == "" {
		announce = "http://127.0.0.1:1/announce"
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path)+".torrent")
	cmd := exec.Command("mktorrent", "-l", strconv.Itoa(pieceLog), "-a", announce, "-o", out, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mktorrent: %v\n%s", err, b)
	}
	return out
}

// LTTorrentKind picks what libtorrent's create_torrent makes.
type LTTorrentKind string

const (
	LTHybrid LTTorrentKind = "hybrid" // v1+v2, with BEP 47 pad files, as qBittorrent makes
	LTV2Only LTTorrentKind = "v2"
)

// MakeLibtorrentTorrent makes a .torrent of path with libtorrent's own
// create_torrent, for the formats mktorrent cannot write.
func MakeLibtorrentTorrent(t testing.TB, path string, kind LTTorrentKind) string {
	t.Helper()
	flags := map[LTTorrentKind]string{LTHybrid: "0", LTV2Only: "lt.create_torrent.v2_only"}[kind]
	if flags == "" {
		t.Fatalf("unknown torrent kind %q", kind)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path)+".torrent")
	script := `import sys, os, libtorrent as lt
path, out = sys.argv[1], sys.argv[2]
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, 0, ` + flags + `)
ct.add_tracker("http://127.0.0.1:1/announce")
lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
open(out, "wb").write(lt.bencode(ct.generate()))
`
	if b, err := exec.Command("/usr/bin/python3", "-c", script, path, out).CombinedOutput(); err != nil {
		t.Fatalf("libtorrent create_torrent: %v\n%s", err, b)
	}
	return out
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LTOptions adjust a libtorrent peer.
type LTOptions struct {
	UploadRateLimit int // bytes/s, 0 = unlimited
	// DownloadRateLimit (bytes/s, 0 = unlimited) keeps a leecher a
	// leecher for a while: connected to its seeders, as PEX tests need.
	DownloadRateLimit int
	ConnectTo         []string // HOST:PORT peers to connect to
	Tracker           bool     // announce to the torrent's tracker
	// Encryption is libtorrent's MSE policy: "" keeps its default (MSE
	// first, plain accepted), "forced" allows only RC4-encrypted
	// connections, both ways.
	Encryption string
}

// Peer is a running client.
type Peer struct {
	Port int
	t    testing.TB
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	prog float64
	// samples are a libtorrent leecher's received payload over time.
	samples []Sample
	done    chan struct{} // closed on DONE
	exit    chan struct{} // closed when the process ends
	once    sync.Once
}

// Sample is what a libtorrent leecher had received (payload bytes) at T,
// seconds on its own clock.
type Sample struct {
	T    float64
	Down int64
}

// Samples returns a libtorrent leecher's samples so far, one every 0.2 s.
func (p *Peer) Samples() []Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

func (p *Peer) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// LTPeer is a connection a libtorrent peer made or took: the other side's
// address and how libtorrent learned of it ("pex", "tracker", "incoming",
// several joined by "+"; "none" for a peer it was told to connect to).
type LTPeer struct {
	Addr     string // IP:PORT as libtorrent sees it
	Source   string
	Outgoing bool // libtorrent dialled it
}

// Peers lists every peer a libtorrent peer has been connected with so far
// (ltpeer.py's PEER lines), in order.
func (p *Peer) Peers() []LTPeer {
	var out []LTPeer
	for _, line := range strings.Split(p.output(), "\n") {
		var lp LTPeer
		var o int
		if n, _ := fmt.Sscanf(line, "PEER %s source=%s out=%d", &lp.Addr, &lp.Source, &o); n == 3 {
			lp.Outgoing = o == 1
			out = append(out, lp)
		}
	}
	return out
}

// Output is everything the peer printed so far.
func (p *Peer) Output() string { return p.output() }

// Progress is the last reported fraction downloaded.
func (p *Peer) Progress() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prog
}

// WaitDone waits until the peer has the whole torrent.
func (p *Peer) WaitDone(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-p.exit:
		return fmt.Errorf("exited before completing:\n%s", p.output())
	case <-ctx.Done():
		return fmt.Errorf("not complete (progress %.2f): %w\n%s", p.Progress(), ctx.Err(), p.output())
	}
}

// Kill stops the peer now.
func (p *Peer) Kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exit
}

func start(t testing.TB, name string, args []string, ready func(line string) (port int, ok bool)) *Peer {
	t.Helper()
	p := &Peer{t: t, cmd: exec.Command(name, args...), done: make(chan struct{}), exit: make(chan struct{})}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	readyc := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Split(scanLines)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			if f, ok := strings.CutPrefix(line, "PROGRESS "); ok {
				var s Sample
				var peers int
				if n, _ := fmt.Sscanf(f, "%g peers=%d down=%d t=%g", &p.prog, &peers, &s.Down, &s.T); n == 4 {
					p.samples = append(p.samples, s)
				}
			}
			p.mu.Unlock()
			if port, ok := ready(line); ok {
				select {
				case readyc <- port:
				default:
				}
			}
			if line == "DONE" || strings.Contains(line, "Download complete") || strings.HasPrefix(line, "Seeding, uploading") {
				p.once.Do(func() { close(p.done) })
			}
		}
		p.cmd.Wait()
		close(p.exit)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.output())
		}
	})
	select {
	case p.Port = <-readyc:
	case <-p.exit:
		t.Fatalf("%s exited before it was ready:\n%s", name, p.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s not ready after 60 s:\n%s", name, p.output())
	}
	return p
}

// scanLines splits at \n and at \r: Transmission rewrites its status line
// with carriage returns.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := strings.IndexAny(string(data), "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func ltReady(line string) (int, bool) {
	if v, ok := strings.CutPrefix(line, "READY port="); ok {
		port, err := strconv.Atoi(v)
		return port, err == nil
	}
	return 0, false
}

func ltArgs(t testing.TB, torrent, dir string, opt LTOptions) []string {
	script := filepath.Join(t.TempDir(), "ltpeer.py")
	if err := os.WriteFile(script, []byte(ltScript), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "--torrent"
	if strings.HasPrefix(torrent, "magnet:") {
		src = "--magnet"
	}
	args := []string{script, src, torrent, "--dir", dir, "--port", strconv.Itoa(FreePort(t)),
		"--upload-rate", strconv.Itoa(opt.UploadRateLimit), "--download-rate", strconv.Itoa(opt.DownloadRateLimit)}
	for _, c := range opt.ConnectTo {
		args = append(args, "--connect", c)
	}
	if opt.Tracker {
		args = append(args, "--tracker")
	}
	if opt.Encryption != "" {
		args = append(args, "--encryption", opt.Encryption)
	}
	return args
}

// StartLibtorrentSeeder seeds torrent from dataDir (the directory that
// holds the torrent's top-level file or folder) once libtorrent has checked
// the data.
func StartLibtorrentSeeder(t testing.TB, torrent, dataDir string, opt LTOptions) *Peer {
	t.Helper()
	return start(t, "/usr/bin/python3", append(ltArgs(t, torrent, dataDir, opt), "--seed"), ltReady)
}

// StartLibtorrentLeecher downloads torrent (a .torrent file or a magnet
// link; for a link it prints METADATA sha1=HEX once it has the info
// dictionary) into saveDir.
func StartLibtorrentLeecher(t testing.TB, torrent, saveDir string, opt LTOptions) *Peer {
	t.Helper()
	return start(t, "/usr/bin/python3", ltArgs(t, torrent, saveDir, opt), ltReady)
}

// StartAria2Leecher downloads torrent into saveDir through the torrent's
// tracker (aria2 cannot be given a peer directly); it exits when complete.
func StartAria2Leecher(t testing.TB, torrent, saveDir string) *Peer {
	t.Helper()
	port := FreePort(t)
	args := []string{"-d", saveDir, "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--seed-time=0", "--listen-port=" + strconv.Itoa(port), "--file-allocation=none", "--console-log-level=notice",
		"--summary-interval=1", "--bt-stop-timeout=0", torrent}
	return start(t, "aria2c", args, func(string) (int, bool) { return port, true })
}

// StartTransmission runs transmission-cli (Transmission 3.00) on torrent
// in dir: it seeds what dir holds and downloads the rest from peers that
// connect to it (it cannot be handed a peer); WaitDone returns once it
// seeds. encryption is "" (its default: prefer encrypted, accept plain) or
// "required" (MSE only). DHT, local discovery, PEX, µTP, port mapping and
// its RPC server are off and its state lives in a directory of the test's:
// nothing leaves loopback or the test.
func StartTransmission(t testing.TB, torrent, dir, encryption string) *Peer {
	t.Helper()
	home := t.TempDir()
	settings := `{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
	"port-forwarding-enabled": false, "rpc-enabled": false, "blocklist-enabled": false,
	"bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "speed-limit-up-enabled": false}`
	if err := os.WriteFile(filepath.Join(home, "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	args := []string{"-g", home, "-w", dir, "-p", strconv.Itoa(port), "-M", "-U"}
	if encryption == "required" {
		args = append(args, "-er")
	}
	return start(t, "transmission-cli", append(args, torrent), func(line string) (int, bool) {
		return port, strings.Contains(line, "started")
	})
}
