package pick

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/plugins"
	"github.com/torrent-dev/torrent/internal/logbuf"
	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugins.Cleanup()
	testbin.Cleanup()
	os.Exit(code)
}

const numPieces = 64

func bits(set ...int) bitfield.Bitfield {
	b := bitfield.New(numPieces)
	for _, i := range set {
		b.Set(i)
	}
	return b
}

// setup is a swarm of two peers: peer 1 has the even pieces, peer 2 all;
// we have pieces 0-9, piece 20 is urgent.
func setup(m *Manager) {
	var even []int
	for i := 0; i < numPieces; i += 2 {
		even = append(even, i)
	}
	all := bits()
	all.SetAll()
	m.Post([]sdk.Event{sdk.PeerJoined{Peer: 1, Have: bits(even...)}, sdk.PeerJoined{Peer: 2, Have: all}, sdk.UrgentSet{Pieces: []int{20}}}, nil)
}

func have() bitfield.Bitfield { return bits(0, 1, 2, 3, 4, 5, 6, 7, 8, 9) }

// ask posts a want for both peers until an answer covering both arrives.
func ask(t *testing.T, m *Manager) sdk.Picks {
	t.Helper()
	deadline := time.After(20 * time.Second)
	got := sdk.Picks{}
	for {
		m.Post(nil, []sdk.Want{{Peer: 1, N: 8}, {Peer: 2, N: 8}})
		select {
		case p := <-m.Picks():
			for id, l := range p {
				got[id] = l
			}
			if len(got[1]) > 0 && len(got[2]) > 0 {
				return got
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no picks for both peers; status %+v", m.Status())
		}
	}
}

// checkPicks: in range, not ours, the peer has them, no duplicates, urgent first.
func checkPicks(t *testing.T, p sdk.Picks) {
	t.Helper()
	for id, list := range p {
		seen := map[int]bool{}
		for _, i := range list {
			if i < 10 || i >= numPieces || seen[i] || (id == 1 && i%2 == 1) {
				t.Fatalf("peer %d got a bad pick %d in %v", id, i, list)
			}
			seen[i] = true
		}
		if list[0] != 20 {
			t.Fatalf("peer %d: urgent piece 20 not first in %v", id, list)
		}
	}
}

func start(t *testing.T, spec string, log hclog.Logger) *Manager {
	m := Start(context.Background(), Config{Spec: spec, Logger: log,
		Torrent: sdk.Torrent{NumPieces: numPieces, PieceLength: 1 << 14, TotalLength: numPieces << 14}, Have: have()})
	t.Cleanup(m.Close)
	setup(m)
	return m
}

func TestBuiltin(t *testing.T) {
	t.Parallel()
	m := start(t, "", nil)
	checkPicks(t, ask(t, m))
	if st := m.Status(); st.Active {
		t.Fatalf("status %+v: no plugin was asked for", st)
	}
}

func TestMissingPluginFallsBack(t *testing.T) {
	t.Parallel()
	var log logbuf.Buffer
	m := start(t, "no-such-picker", hclog.New(&hclog.LoggerOptions{Output: &log}))
	checkPicks(t, ask(t, m))
	if !strings.Contains(log.String(), "torrent-picker-no-such-picker") {
		t.Fatalf("the log does not name the missing plugin:\n%s", log.String())
	}
}

// The real picker-random plugin answers; killed, the built-in picker
// answers, the log says why, and the plugin comes back.
func TestPluginKilledAndRestarted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(testbin.Build(t), "torrent-picker-random")
	var log logbuf.Buffer
	m := start(t, path, hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Debug}))
	waitStatus(t, m, func(s Status) bool { return s.Active })
	checkPicks(t, ask(t, m))
	pid := pluginPID(t, &log)
	syscall.Kill(pid, syscall.SIGKILL)
	waitStatus(t, m, func(s Status) bool { return !s.Active })
	checkPicks(t, ask(t, m)) // from the built-in picker
	if !regexp.MustCompile(`picker plugin failed.*cause=.*plugin process exited`).MatchString(log.String()) {
		t.Fatalf("no log line with the cause:\n%s", log.String())
	}
	waitStatus(t, m, func(s Status) bool { return s.Active && s.Restarts == 2 })
	checkPicks(t, ask(t, m))
	m.Close()
	if syscall.Kill(pluginPID(t, &log), 0) == nil && !exited(pluginPID(t, &log)) {
		t.Fatal("plugin process still running after Close")
	}
}

func waitStatus(t *testing.T, m *Manager, ok func(Status) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok(m.Status()) {
		if time.Now().After(deadline) {
			t.Fatalf("status stuck at %+v", m.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var pidRe = regexp.MustCompile(`plugin started: .*pid=(\d+)`)

// pluginPID is the pid of the newest plugin process, from go-plugin's log.
func pluginPID(t *testing.T, log *logbuf.Buffer) int {
	t.Helper()
	all := pidRe.FindAllStringSubmatch(log.String(), -1)
	if len(all) == 0 {
		t.Fatalf("no plugin start in the log:\n%s", log.String())
	}
	pid, _ := strconv.Atoi(all[len(all)-1][1])
	return pid
}

func exited(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

// check drops what a misbehaving plugin sends and says what was wrong.
func TestCheckAnswers(t *testing.T) {
	t.Parallel()
	s, _ := sdk.NewSwarm(sdk.Snapshot{Torrent: sdk.Torrent{NumPieces: numPieces, PieceLength: 1}, Have: have()})
	s.Apply(sdk.PeerJoined{Peer: 1, Have: bits(10, 11, 12)})
	tests := map[string]struct {
		picks sdk.Picks
		want  []int
		fault string
	}{
		"good":         {sdk.Picks{1: {12, 10}}, []int{12, 10}, ""},
		"out of range": {sdk.Picks{1: {10, 999, -1}}, []int{10}, "out of range"},
		"duplicate":    {sdk.Picks{1: {10, 10}}, []int{10}, "twice"},
		"lacks":        {sdk.Picks{1: {13}}, []int{}, "lacks"},
		"ours":         {sdk.Picks{1: {0, 11}}, []int{11}, ""},
		"too many":     {sdk.Picks{1: {10, 11, 12}}, []int{10, 11}, "asked for 2"},
		"not asked":    {sdk.Picks{9: {10}}, nil, "not asked"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := 8
			if name == "too many" {
				n = 2
			}
			got, fault := check(s, tc.picks, map[sdk.PeerID]int{1: n})
			if tc.want != nil && !slices.Equal(got[1], tc.want) {
				t.Errorf("kept %v, want %v", got[1], tc.want)
			}
			if (tc.fault == "") != (fault == "") || !strings.Contains(fault, tc.fault) {
				t.Errorf("fault %q, want %q", fault, tc.fault)
			}
		})
	}
}

// Files chosen while the torrent runs: after SetWanted the picks come
// from the new wanted pieces (and the urgent one), from the built-in
// picker and from a plugin, which learns them from a new session's
// snapshot.
func TestSetWanted(t *testing.T) {
	t.Parallel()
	for name, spec := range map[string]string{"builtin": "", "plugin": filepath.Join(testbin.Build(t), "torrent-picker-random")} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var log logbuf.Buffer
			m := Start(context.Background(), Config{Spec: spec, Logger: hclog.New(&hclog.LoggerOptions{Output: &log}),
				Torrent: sdk.Torrent{NumPieces: numPieces, PieceLength: 1 << 14, TotalLength: numPieces << 14}, Have: have(),
				Wanted: bits(30, 31, 32, 33, 34, 35, 36, 37, 38, 39)})
			t.Cleanup(m.Close)
			setup(m)
			if spec != "" {
				waitStatus(t, m, func(s Status) bool { return s.Active })
			}
			within := func(p sdk.Picks, lo, hi int) bool {
				for _, list := range p {
					for _, i := range list {
						if i != 20 && (i < lo || i >= hi) {
							return false
						}
					}
				}
				return true
			}
			if p := ask(t, m); !within(p, 30, 40) {
				t.Fatalf("picks %v outside the wanted pieces 30-39", p)
			}
			m.SetWanted(bits(40, 41, 42, 43, 44, 45, 46, 47, 48, 49))
			// Answers computed before the change may still arrive.
			deadline := time.Now().Add(20 * time.Second)
			for p := ask(t, m); !within(p, 40, 50); p = ask(t, m) {
				if time.Now().After(deadline) {
					t.Fatalf("picks %v still outside the new wanted pieces 40-49; log:\n%s", p, log.String())
				}
			}
			for range 3 {
				if p := ask(t, m); !within(p, 40, 50) {
					t.Fatalf("picks %v outside the new wanted pieces 40-49", p)
				}
			}
			if st := m.Status(); spec != "" && (!st.Active || st.Restarts != 1) {
				t.Fatalf("status %+v: the plugin was restarted, not given a new session", st)
			}
		})
	}
}
