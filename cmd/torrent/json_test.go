package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/hostapi"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/selection"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/swarm"
	"github.com/torrent-dev/torrent/host/tracker"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fakeSource is a scripted session.
type fakeSource struct {
	st          swarm.Stats
	tr          tracker.Status
	checked     int
	checkDone   bool
	haveTracker bool
	m           *metainfo.MetaInfo
	ms          session.MetadataStatus // while m is nil
	sel         *selection.Selection   // nil: every file
}

func (f *fakeSource) Stats() swarm.Stats              { return f.st }
func (f *fakeSource) Tracker() (tracker.Status, bool) { return f.tr, f.haveTracker }
func (f *fakeSource) Checking() (int, bool)           { return f.checked, f.checkDone }
func (f *fakeSource) Meta() *metainfo.MetaInfo        { return f.m }
func (f *fakeSource) Sel() *selection.Selection       { return f.sel }
func (f *fakeSource) MetadataStatus() (session.MetadataStatus, bool) {
	return f.ms, f.m == nil
}
func (f *fakeSource) LazyStats() (session.LazyStats, bool) { return session.LazyStats{}, false }
func (f *fakeSource) InfoHash() [20]byte                   { return jsonTestMeta().InfoHash }
func (f *fakeSource) Name() string {
	if f.m != nil {
		return f.m.Info.Name
	}
	return "demo (dn)"
}

// jsonTestMeta is a two-file torrent of 10 pieces of 16 KiB, the last short.
func jsonTestMeta() *metainfo.MetaInfo {
	m := &metainfo.MetaInfo{Info: metainfo.Info{Name: "demo", PieceLength: 16 << 10, Pieces: make([][20]byte, 10), Length: 9*16<<10 + 100, MultiFile: true,
		Files: []metainfo.File{{Path: []string{"a.bin"}, Length: 9 * 16 << 10}, {Path: []string{"sub", "b.txt"}, Length: 100, Offset: 9 * 16 << 10}}}}
	copy(m.InfoHash[:], "0123456789abcdefghij")
	return m
}

// A scripted session through every event: the stream is pinned byte for
// byte by testdata/events.golden (docs/json.md describes it).
func TestJSONEventsGolden(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	clock := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	logs := hostapi.NewLogRing(100)
	e := newJSONEvents(&out, nil, nil)
	e.now = func() time.Time { return clock }
	src := &fakeSource{haveTracker: true, st: swarm.Stats{NumPieces: 10, Missing: 10}}
	m := jsonTestMeta()
	e.mu.Lock()
	e.m, e.logs = m, logs
	e.mu.Unlock()
	e.start("/data", 6881)
	step := func(f func()) {
		clock = clock.Add(time.Second)
		f()
		e.tick(src)
	}
	step(func() { src.checked = 4 })
	have := bitfield.New(10)
	have.Set(0)
	step(func() {
		src.checked, src.checkDone = 10, true
		src.st = swarm.Stats{Have: have.Clone(), NumPieces: 10, Missing: 9, Known: 2, Status: "disk full at /data: retrying"}
		src.tr = tracker.Status{URL: "http://127.0.0.1:1/announce", LastError: "connection refused", NextAnnounce: clock.Add(15 * time.Second)}
		fmt.Fprintf(logs, "12:00:02.000 [WARN]  torrent.tracker: announce failed: reason=\"connection refused\"\n12:00:02.000 [INFO]  torrent: not passed on\n")
	})
	for i := 1; i < 5; i++ {
		have.Set(i)
	}
	// The terminal UI's files view skips b.txt and makes a.bin high:
	// one files event.
	high, err := src.sel.With(&m.Info, 0, false, selection.High)
	if err != nil {
		t.Fatal(err)
	}
	if src.sel, err = high.With(&m.Info, 1, true, selection.Normal); err != nil {
		t.Fatal(err)
	}
	step(func() {
		src.st = swarm.Stats{Have: have.Clone(), NumPieces: 10, Missing: 5, Known: 3, Downloaded: 5 << 14, Uploaded: 1000, DownRate: 16 << 10, UpRate: 500,
			Peers: []swarm.PeerStats{{Addr: "127.0.0.1:6882", Client: "libtorrent 2.0.8"}, {Addr: "127.0.0.2:6883", Client: "Transmission 3.0.0"}}}
		src.tr = tracker.Status{URL: "http://127.0.0.1:1/announce", LastAnnounce: clock, NextAnnounce: clock.Add(30 * time.Minute), Peers: 3, Seeders: 2, Leechers: 1}
	})
	have.SetAll()
	step(func() {
		src.st = swarm.Stats{Have: have.Clone(), NumPieces: 10, Missing: 0, Known: 3, Downloaded: 10 << 14, Uploaded: 2000, UpRate: 300,
			Peers: []swarm.PeerStats{{Addr: "127.0.0.2:6883", Client: "Transmission 3.0.0"}}}
	})
	step(func() {}) // nothing new: progress only, no second complete
	e.finish(nil, false, false, true)
	e.finish(errors.New("check data: read a.bin: input/output error"), false, true, false)
	checkGolden(t, "events.golden", out.Bytes())
	for i, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil || v["v"] != float64(jsonVersion) {
			t.Fatalf("line %d is not a v%d object (%v): %s", i, jsonVersion, err, l)
		}
	}
}

// A magnet link's session: metadata events while the metadata is
// fetched, then start and the usual stream (testdata/events-magnet.golden).
func TestJSONEventsMagnetGolden(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	clock := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	e := newJSONEvents(&out, nil, nil)
	e.now = func() time.Time { return clock }
	src := &fakeSource{st: swarm.Stats{NumPieces: 10, Missing: 10}}
	e.mu.Lock()
	e.logs, e.dir, e.port = hostapi.NewLogRing(10), "/data", 6881
	e.mu.Unlock()
	step := func(f func()) {
		clock = clock.Add(time.Second)
		f()
		e.tick(src)
	}
	step(func() { src.ms = session.MetadataStatus{Known: 2} })
	step(func() { src.ms = session.MetadataStatus{Peers: 2, Known: 3, Have: 1, Total: 2} })
	step(func() { src.m = jsonTestMeta() })
	step(func() { src.checked = 10; src.checkDone = true })
	e.finish(nil, true, true, false)
	checkGolden(t, "events-magnet.golden", out.Bytes())
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// `torrent info -json` of a torrent made by mktorrent: one object, pinned
// by testdata/info.golden with the creation date normalised.
func TestInfoJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	realpeers.MakeData(t, dir, realpeers.FileSpec{Path: "j/a.bin", Size: 40000}, realpeers.FileSpec{Path: "j/sub/b.txt", Size: 10})
	torrent := realpeers.MakeTorrent(t, filepath.Join(dir, "j"), "http://127.0.0.1:1/announce", 15)
	cmd := exec.Command(filepath.Join(testbin.Build(t), "torrent"), "info", "-json", torrent)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("info -json: %v", err)
	}
	if n := bytes.Count(out, []byte("\n")); n != 1 {
		t.Fatalf("%d lines, want one object on one line:\n%s", n, out)
	}
	var v jsonInfo
	if err := json.Unmarshal(out, &v); err != nil || v.CreationDate == nil {
		t.Fatalf("%v; creation date %v:\n%s", err, v.CreationDate, out)
	}
	if _, err := time.Parse(time.RFC3339, *v.CreationDate); err != nil {
		t.Fatal(err)
	}
	norm := regexp.MustCompile(`"creation_date":"[^"]*"`).ReplaceAll(out, []byte(`"creation_date":"DATE"`))
	norm = regexp.MustCompile(`"created_by":"mktorrent [^"]*"`).ReplaceAll(norm, []byte(`"created_by":"mktorrent VERSION"`))
	checkGolden(t, "info.golden", norm)
}

// A real download with -json -seed=false from a libtorrent seeder, read as
// a script would: every line one object of schema v1 with the fields of
// its type (testdata/events.golden), in order start, progress...,
// complete, stop; the numbers agree with the torrent and each other.
func TestJSONDownload(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "r/a.bin", Size: 3 << 20}, realpeers.FileSpec{Path: "r/b.txt", Size: 1234})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "r"), "", 16)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 1 << 20})
	dst := t.TempDir()
	cmd := exec.Command(filepath.Join(testbin.Build(t), "torrent"), offline([]string{"-json", "-seed=false", "-up-rate", "0",
		"-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent})...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	keys := goldenKeys(t)
	var types []string
	var last map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %v: %s", err, sc.Text())
		}
		typ, _ := ev["type"].(string)
		if ev["v"] != float64(1) || keys[typ] == "" {
			t.Fatalf("v %v, type %q unknown: %s", ev["v"], typ, sc.Text())
		}
		if got := keyList(ev); got != keys[typ] {
			t.Errorf("%s event has keys %s, the schema %s", typ, got, keys[typ])
		}
		if _, err := time.Parse(time.RFC3339Nano, ev["time"].(string)); err != nil {
			t.Errorf("time: %v", err)
		}
		checkEvent(t, typ, ev, last, dst, seeder.Port)
		if typ == "progress" {
			last = ev
		}
		if len(types) == 0 || types[len(types)-1] != typ {
			types = append(types, typ)
		}
	}
	order := strings.Join(types, " ")
	if !regexp.MustCompile(`^start (progress |peer |tracker |log )*complete stop$`).MatchString(order) {
		t.Fatalf("events in the order %q", order)
	}
	if !strings.Contains(order, "peer") {
		t.Fatalf("no peer event: %q", order)
	}
	realpeers.SameFiles(t, filepath.Join(src, "r"), filepath.Join(dst, "r"))
}

// checkEvent checks one event's values; prev is the previous progress.
func checkEvent(t *testing.T, typ string, ev, prev map[string]any, dst string, seederPort int) {
	t.Helper()
	num := func(k string) float64 { v, _ := ev[k].(float64); return v }
	switch typ {
	case "start":
		tor := ev["torrent"].(map[string]any)
		files := tor["files"].([]any)
		if tor["name"] != "r" || tor["length"] != float64(3<<20+1234) || tor["piece_length"] != float64(1<<16) ||
			tor["pieces"] != float64((3<<20+1234+(1<<16)-1)>>16) || len(files) != 2 || ev["dir"] != dst || num("port") <= 0 {
			t.Errorf("start event: %v", ev)
		}
		if f := files[1].(map[string]any); f["path"] != "r/b.txt" || f["length"] != float64(1234) || f["offset"] != float64(3<<20) {
			t.Errorf("second file: %v", f)
		}
		if h, _ := tor["info_hash"].(string); len(h) != 40 {
			t.Errorf("info_hash %q", h)
		}
	case "progress":
		if num("pieces") != 49 || num("length") != 3<<20+1234 || num("pieces_done") > num("pieces") || num("bytes_done") > num("length") {
			t.Errorf("progress: %v", ev)
		}
		switch ev["state"] {
		case "checking", "stalled":
		case "downloading":
			if num("down_rate") <= 0 || ev["eta"] == nil {
				t.Errorf("downloading without a rate or ETA: %v", ev)
			}
		case "seeding":
			if num("pieces_done") != 49 || num("bytes_done") != 3<<20+1234 || ev["eta"] != float64(0) {
				t.Errorf("seeding: %v", ev)
			}
		default:
			t.Errorf("state %v", ev["state"])
		}
		if prev != nil && (num("pieces_done") < prev["pieces_done"].(float64) || num("downloaded") < prev["downloaded"].(float64)) {
			t.Errorf("progress went back: %v after %v", ev, prev)
		}
	case "peer":
		if ev["addr"] != fmt.Sprintf("127.0.0.1:%d", seederPort) || !strings.HasPrefix(ev["client"].(string), "libtorrent") {
			t.Errorf("peer: %v", ev)
		}
	case "complete":
		if num("downloaded") < 3<<20 || prev == nil || prev["state"] != "seeding" {
			t.Errorf("complete: %v after %v", ev, prev)
		}
	case "stop":
		if ev["reason"] != "complete" || ev["complete"] != true {
			t.Errorf("stop: %v", ev)
		}
	}
}

// goldenKeys reads each event type's keys off testdata/events.golden.
func goldenKeys(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events.golden"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		keys[ev["type"].(string)] = keyList(ev)
	}
	return keys
}

func keyList(ev map[string]any) string {
	var ks []string
	for k := range ev {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// An unreadable torrent with -json: an error event and the stop, exit 2.
func TestJSONError(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(filepath.Join(testbin.Build(t), "torrent"), offline([]string{"-json", "nope.torrent"})...)
	cmd.Dir = t.TempDir()
	out, _ := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if code := cmd.ProcessState.ExitCode(); code != 2 || len(lines) != 2 {
		t.Fatalf("exit %d, %d lines:\n%s", code, len(lines), out)
	}
	var ev, stop map[string]any
	json.Unmarshal([]byte(lines[0]), &ev)
	json.Unmarshal([]byte(lines[1]), &stop)
	if ev["type"] != "error" || !strings.Contains(ev["message"].(string), "no such file") || stop["type"] != "stop" || stop["reason"] != "error" {
		t.Fatalf("events:\n%s", out)
	}
}
