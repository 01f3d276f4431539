package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

const (
	floodConns = 2000
	// peerSockets is the client's documented bound on peer sockets
	// (swarm.Config: MaxPeers+MaxHalfOpen), plus the listener and the one
	// socket being refused.
	peerSockets = swarm.DefaultMaxPeers + swarm.DefaultMaxHalfOpen + 2
	// otherFDs is what the client holds besides peers: stdio, the torrent's
	// files, the picker plugin's pipes and gRPC socket, the Go runtime's
	// epoll and its wake-up fd, the resume file while it is written.
	otherFDs = 30
	maxRSS   = 100 << 20
)

// While the client downloads from an honest libtorrent seeder, 2,000
// incoming connections are opened to it and reopened whenever it closes
// one: a third say nothing, a third send half a handshake and stop, a
// third send a handshake one byte a second. The download completes with
// the right data, the client's peak RSS stays under 100 MiB and its
// descriptors within the documented cap.
func TestFloodOfIncomingConnections(t *testing.T) {
	// Not parallel: 2,000 sockets and their churn would disturb the
	// other tests, and they the figures.
	raiseNofile(t, floodConns+1000)
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB/s makes the 12.6 MiB download outlast the flood's start.
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	port := realpeers.FreePort(t)
	// The flood starts first and connects as soon as the client listens.
	f := startFlood(t, fmt.Sprintf("127.0.0.1:%d", port), m.InfoHash, floodConns)
	dst := t.TempDir()
	testbin.Build(t) // not in the time taken
	start := time.Now()
	c := startClient(t, "-seed=false", "-up-rate", "0", "-port", strconv.Itoa(port),
		"-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	pid := c.cmd.Process.Pid
	var peakFDs, rss int
	var cpuTime time.Duration
	var peakList []string
	floodUpAt := -1 // samples taken when every flood connection had connected once
	samples := 0
	limit := ""
	deadline := time.After(3 * time.Minute)
sample:
	for {
		select {
		case <-c.done:
			break sample
		case <-deadline:
			t.Fatalf("no download after 3 minutes under the flood; %d of %d connected", f.up.Load(), floodConns)
		case <-time.After(20 * time.Millisecond):
		}
		if limit == "" {
			limit = nofileLimit(pid)
		}
		if h, cpu := procStatus(pid); h > 0 {
			rss, cpuTime = h, cpu
		}
		if fds := openFDs(pid); len(fds) > peakFDs {
			peakFDs, peakList = len(fds), fds
		}
		samples++
		if floodUpAt < 0 && f.allUp() {
			floodUpAt = samples
		}
	}
	elapsed := time.Since(start)
	f.stop()
	c.wait(time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	t.Logf("download done in %s under the flood: %d connections made, at most %d open at once from our side",
		elapsed.Round(100*time.Millisecond), f.connects.Load(), f.peak.Load())
	t.Logf("client: peak RSS (VmHWM) %.1f MiB, peak %d open fds (cap %d peer + %d other), %s, CPU %s",
		float64(rss)/(1<<20), peakFDs, peerSockets, otherFDs, limit, cpuTime.Round(10*time.Millisecond))
	if floodUpAt < 0 {
		t.Fatalf("the download ended before all %d flood connections had connected (%d did)", floodConns, f.up.Load())
	}
	if !regexp.MustCompile(`refused incoming connections over the limit`).MatchString(c.output()) {
		t.Fatal("the client never said it refused connections: the flood did not reach its limits")
	}
	if rss == 0 || rss >= maxRSS {
		t.Fatalf("peak RSS %d bytes, want below %d", rss, maxRSS)
	}
	if peakFDs > peerSockets+otherFDs {
		t.Fatalf("peak %d open descriptors, want at most %d:\n%s", peakFDs, peerSockets+otherFDs, strings.Join(peakList, "\n"))
	}
}

// raiseNofile lets this process open n descriptors, raising the hard
// limit too when it is lower (root may).
func raiseNofile(t *testing.T, n uint64) {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Cur >= n {
		return
	}
	l.Cur, l.Max = n, max(l.Max, n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatalf("the flood needs %d descriptors: %v", n, err)
	}
}

// procStatus is a process's peak resident set in bytes (0 once it is
// gone) and the CPU time it has used.
func procStatus(pid int) (hwm int, cpu time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			hwm = kb << 10
		}
	}
	// pid (comm) state ppid ... utime stime: fields 14 and 15, in ticks
	// of 1/100 s (USER_HZ on Linux).
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := bytes.LastIndexByte(st, ')'); i >= 0 {
		if f := strings.Fields(string(st[i+1:])); len(f) > 12 {
			ut, _ := strconv.Atoi(f[11])
			sys, _ := strconv.Atoi(f[12])
			cpu = time.Duration(ut+sys) * 10 * time.Millisecond
		}
	}
	return hwm, cpu
}

// nofileLimit is a process's open-files limit as /proc shows it.
func nofileLimit(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			f := strings.Fields(line)
			return fmt.Sprintf("open-files limit %s soft, %s hard", f[3], f[4])
		}
	}
	return ""
}

// openFDs lists what a process's descriptors point at.
func openFDs(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+" -> "+target)
	}
	return out
}

// flood keeps n connections to an address busy the hostile way.
type flood struct {
	addr     string
	hs       []byte
	quit     chan struct{}
	wg       sync.WaitGroup
	connects atomic.Int64
	up       atomic.Int64 // connections that have connected at least once
	open     atomic.Int64
	peak     atomic.Int64
	n        int64
}

func startFlood(t *testing.T, addr string, infoHash [20]byte, n int) *flood {
	var b bytes.Buffer
	var id [20]byte
	copy(id[:], "-XX0000-flood0000000")
	wire.WriteHandshake(&b, wire.NewHandshake(infoHash, id))
	f := &flood{addr: addr, hs: b.Bytes(), quit: make(chan struct{}), n: int64(n)}
	for i := range n {
		f.wg.Add(1)
		go f.run(i % 3)
	}
	t.Cleanup(f.stop)
	return f
}

func (f *flood) allUp() bool { return f.up.Load() == f.n }

func (f *flood) stop() {
	select {
	case <-f.quit:
	default:
		close(f.quit)
	}
	f.wg.Wait()
}

// run reconnects a second after each close, until stop. kind 0 says
// nothing, 1 sends half a handshake, 2 a handshake one byte a second.
func (f *flood) run(kind int) {
	defer f.wg.Done()
	first := true
	for {
		c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
		if err == nil {
			if first {
				f.up.Add(1)
				first = false
			}
			f.connects.Add(1)
			open := f.open.Add(1)
			for p := f.peak.Load(); open > p && !f.peak.CompareAndSwap(p, open); p = f.peak.Load() {
			}
			f.hold(c, kind)
			c.Close()
			f.open.Add(-1)
		}
		// Before the client listens, a refused connect retries sooner.
		pause := time.Second
		if err != nil {
			pause = 50 * time.Millisecond
		}
		select {
		case <-f.quit:
			return
		case <-time.After(pause):
		}
	}
}

// hold plays one connection until the client closes it or the flood stops.
func (f *flood) hold(c net.Conn, kind int) {
	sent := 0
	if kind == 1 {
		sent, _ = c.Write(f.hs[:len(f.hs)/2])
	}
	buf := make([]byte, 512)
	for {
		select {
		case <-f.quit:
			return
		default:
		}
		if kind == 2 && sent < len(f.hs) {
			if _, err := c.Write(f.hs[sent : sent+1]); err != nil {
				return
			}
			sent++
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := c.Read(buf)
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			return // closed by the client
		}
	}
}
