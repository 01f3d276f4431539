package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/wire"
	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// startCheckRe is the start-up check's line: pieces had, of all, hashed on
// disk, trusted from the resume file without hashing.
var startCheckRe = regexp.MustCompile(`checked data on disk: pieces=(\d+) of=(\d+) hashed=(\d+) trusted=(\d+)`)

// startCheck is what one start's check line says.
type startCheck struct{ pieces, of, hashed, trusted int }

func parseStartCheck(t *testing.T, out string) startCheck {
	t.Helper()
	m := startCheckRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no start-up check line in:\n%s", out)
	}
	return startCheck{int(atoi(t, m[1])), int(atoi(t, m[2])), int(atoi(t, m[3])), int(atoi(t, m[4]))}
}

// torrentData reads a torrent's pieces from a directory, in the torrent's
// file order; a missing or short file reads as missing bytes (false).
type torrentData struct {
	info *metainfo.Info
	dir  string
}

func (d torrentData) piece(i int) ([]byte, bool) {
	info := d.info
	off, n := int64(i)*info.PieceLength, info.PieceSize(i)
	buf := make([]byte, 0, n)
	var start int64
	for _, f := range info.Files {
		lo, hi := max(off, start), min(off+n, start+f.Length)
		if lo < hi {
			part := make([]byte, hi-lo)
			fh, err := os.Open(filepath.Join(d.dir, info.RelPath(f)))
			if err != nil {
				return nil, false
			}
			_, err = fh.ReadAt(part, lo-start)
			fh.Close()
			if err != nil {
				return nil, false
			}
			buf = append(buf, part...)
		}
		start += f.Length
	}
	return buf, true
}

// filePieces is how many pieces hold bytes of the file at rel.
func filePieces(t *testing.T, info *metainfo.Info, rel string) int {
	t.Helper()
	var start int64
	for _, f := range info.Files {
		if info.RelPath(f) == rel {
			return int((start+f.Length-1)/info.PieceLength - start/info.PieceLength + 1)
		}
		start += f.Length
	}
	t.Fatalf("no file %s in the torrent", rel)
	return 0
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755)
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runToEnd runs the client to its exit (code 0) and returns its check line.
func runToEnd(t *testing.T, args ...string) (startCheck, string) {
	t.Helper()
	c := startClient(t, args...)
	c.wait(2*time.Minute, 0)
	return parseStartCheck(t, c.output()), c.output()
}

// A restart on complete data hashes nothing; a file changed behind its
// back (a byte with the mtime moved, a replaced copy, a truncation) is
// hashed again, alone, and a spoilt piece is fetched again; -check hashes
// everything; a resume file of the old format or of another torrent is
// ignored with a warning.
func TestRestartHashesOnlyChangedFiles(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src, realpeers.FileSpec{Path: "t/a.bin", Size: 1<<20 + 5},
		realpeers.FileSpec{Path: "t/b.bin", Size: 2 << 20}, realpeers.FileSpec{Path: "t/c.bin", Size: 700<<10 + 3})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "t"), "", 16)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	n := m.Info.NumPieces()
	dst := t.TempDir()
	copyTree(t, src, dst)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{})
	peer := fmt.Sprintf("127.0.0.1:%d", seeder.Port)
	args := func(extra ...string) []string {
		return append(append([]string{"-seed=false", "-up-rate", "0", "-peer", peer, "-dir", dst}, extra...), torrent)
	}
	want := func(step string, got, want startCheck) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: check found %+v, want %+v", step, got, want)
		}
	}

	got, _ := runToEnd(t, args()...)
	want("first start, no resume file", got, startCheck{n, n, n, 0})
	got, _ = runToEnd(t, args()...)
	want("restart", got, startCheck{n, n, 0, n})
	got, _ = runToEnd(t, args("-check")...)
	want("-check", got, startCheck{n, n, n, 0})

	// One byte of b.bin, its mtime moved: its pieces are hashed, the one
	// spoilt is fetched again.
	b := filepath.Join(dst, "t/b.bin")
	flipFileByte(t, b, 300<<10)
	later := time.Now().Add(time.Hour)
	os.Chtimes(b, later, later)
	nb := filePieces(t, &m.Info, "t/b.bin")
	got, out := runToEnd(t, args()...)
	want("b.bin changed", got, startCheck{n - 1, n, nb, n - nb})
	if d := atoi(t, downloadedRe.FindStringSubmatch(out)[1]); d < m.Info.PieceLength || d > 2*m.Info.PieceLength {
		t.Errorf("b.bin changed: downloaded %d bytes, want about the one piece (%d)", d, m.Info.PieceLength)
	}
	realpeers.SameFiles(t, filepath.Join(src, "t"), filepath.Join(dst, "t"))

	// c.bin replaced by an identical copy with the same mtime: a new inode.
	c := filepath.Join(dst, "t/c.bin")
	fi, _ := os.Stat(c)
	data, _ := os.ReadFile(c)
	os.WriteFile(c+".new", data, 0o644)
	os.Chtimes(c+".new", fi.ModTime(), fi.ModTime())
	if err := os.Rename(c+".new", c); err != nil {
		t.Fatal(err)
	}
	nc := filePieces(t, &m.Info, "t/c.bin")
	got, _ = runToEnd(t, args()...)
	want("c.bin replaced", got, startCheck{n, n, nc, n - nc})

	// a.bin truncated: its pieces past the cut are missing and fetched.
	if err := os.Truncate(filepath.Join(dst, "t/a.bin"), 100<<10); err != nil {
		t.Fatal(err)
	}
	na := filePieces(t, &m.Info, "t/a.bin")
	lost := na - (100<<10)/int(m.Info.PieceLength)
	got, _ = runToEnd(t, args()...)
	want("a.bin truncated", got, startCheck{n - lost, n, na, n - na})
	realpeers.SameFiles(t, filepath.Join(src, "t"), filepath.Join(dst, "t"))

	// A resume file of format 1, then one written for another torrent.
	rp := storage.ResumePath(dst, m.InfoHash)
	v1 := append([]byte("TZRESUME\x00\x00\x00\x01"), m.InfoHash[:]...)
	v1 = append(v1, make([]byte, 16)...)
	v1 = append(append(v1, byte(0), 0, 0, byte((n+7)/8)), bytes.Repeat([]byte{0xff}, (n+7)/8)...)
	v1 = append(v1, crc32be(v1)...)
	os.WriteFile(rp, v1, 0o644)
	got, out = runToEnd(t, args()...)
	want("format 1 resume file", got, startCheck{n, n, n, 0})
	if !strings.Contains(out, "ignoring resume state") || !strings.Contains(out, "format version 1") {
		t.Errorf("format 1 resume file: no warning in:\n%s", out)
	}
	other := [20]byte{0xee}
	full := bitfield.New(n)
	full.SetAll()
	if err := storage.SaveResume(dst, &storage.Resume{InfoHash: other, Have: full.Bytes(), Files: make([]storage.Stamp, 3)}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(storage.ResumePath(dst, other), rp); err != nil {
		t.Fatal(err)
	}
	got, out = runToEnd(t, args()...)
	want("another torrent's resume file", got, startCheck{n, n, n, 0})
	if !strings.Contains(out, "ignoring resume state") || !strings.Contains(out, "is for torrent") {
		t.Errorf("another torrent's resume file: no warning in:\n%s", out)
	}
}

func crc32be(b []byte) []byte { return binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)) }

func flipFileByte(t *testing.T, p string, off int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// advertised connects to the client as a peer and returns the pieces its
// bitfield (or BEP 6 have-all / have-none, and the haves that follow
// within a moment) says it has: what it counts good.
func advertised(t *testing.T, port int, infoHash [20]byte, n int) (bitfield.Bitfield, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return bitfield.Bitfield{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var id [20]byte
	rand.Read(id[:])
	if err := wire.WriteHandshake(c, wire.NewHandshake(infoHash, id)); err != nil {
		return bitfield.Bitfield{}, err
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		return bitfield.Bitfield{}, err
	}
	r := wire.NewReader(c, 1<<20)
	for {
		msg, err := r.Next()
		if err != nil {
			return bitfield.Bitfield{}, fmt.Errorf("before its bitfield: %w", err)
		}
		switch m := msg.(type) {
		case *wire.Bitfield:
			return bitfield.FromBytes(m.Bits, n)
		case *wire.HaveAll:
			b := bitfield.New(n)
			b.SetAll()
			return b, nil
		case *wire.HaveNone:
			return bitfield.New(n), nil
		}
	}
}

// Killed with SIGKILL at many moments of a download (during the start-up
// check and its save, just after, and at random points while pieces
// arrive and resume files are written), every restart counts good only
// pieces whose bytes on disk are the source's: checked piece by piece
// against the source, for the pieces the restarted client advertises to
// a peer. A picker that fetches from the last piece to the first finishes
// files one by one, so restarts trust finished files from the resume file
// (the path under test) while the file being written is hashed.
func TestKillNeverCountsBadPieces(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	var spec []realpeers.FileSpec
	for i := range 10 {
		spec = append(spec, realpeers.FileSpec{Path: fmt.Sprintf("k/f%02d.bin", i), Size: 900<<10 + int64(i)*4099})
	}
	realpeers.MakeData(t, src, spec...)
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "k"), "", 16)
	m, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	n := m.Info.NumPieces()
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{UploadRateLimit: 2 << 20})
	picker := testbin.BuildPkg(t, "internal/testpickers/lastfirst", "torrent-picker-lastfirst")
	dst := t.TempDir()
	source, onDisk := torrentData{&m.Info, src}, torrentData{&m.Info, dst}
	args := []string{"-seed=false", "-up-rate", "0", "-picker", picker,
		"-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent}

	// delays after the check line; -1: kill as soon as the client listens
	delays := []time.Duration{-1, 0, 300 * time.Millisecond, 1500 * time.Millisecond, -1, 50 * time.Millisecond,
		700 * time.Millisecond, 2 * time.Second, 10 * time.Millisecond, 1100 * time.Millisecond, 3 * time.Second, 200 * time.Millisecond}
	var trusted, midway, verified, withData, claimed int
	for k, d := range delays {
		c := startClient(t, args...)
		port := int(atoi(t, c.waitFor(portRe, time.Minute)[1]))
		if d >= 0 {
			ck := parseStartCheck(t, c.waitFor(startCheckRe, time.Minute)[0])
			trusted += ck.trusted
			if ck.pieces == n {
				t.Logf("kill %d: complete at start", k)
				break
			}
			have, err := advertised(t, port, m.InfoHash, n)
			if err != nil && finishedFirst(c) {
				// The few pieces left came at once and it exited (-seed=false)
				// before the dial: its record is checked below, and the next
				// start finds the download complete.
				t.Logf("kill %d: start check %+v, then complete and gone before its bitfield was read", k, ck)
				claimed += checkRecord(t, k, dst, m, source, onDisk)
				continue
			}
			if err != nil {
				t.Fatalf("kill %d: reading the client's bitfield: %v", k, err)
			}
			if have.Count() < ck.pieces {
				t.Fatalf("kill %d: advertises %d pieces, its check counted %d", k, have.Count(), ck.pieces)
			}
			for i := range n {
				if !have.Has(i) {
					continue
				}
				want, _ := source.piece(i)
				got, ok := onDisk.piece(i)
				if !ok || !bytes.Equal(got, want) {
					t.Fatalf("kill %d: piece %d counted good (check: %+v) but its bytes on disk are not the source's", k, i, ck)
				}
				verified++
			}
			if ck.pieces > 0 {
				withData++
			}
			t.Logf("kill %d: start check %+v, advertised %d pieces, all good", k, ck, have.Count())
			time.Sleep(d)
		}
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		if !strings.Contains(c.output(), "session summary") {
			midway++
		}
		// What the record left behind claims must already be on disk.
		claimed += checkRecord(t, k, dst, m, source, onDisk)
	}
	c := startClient(t, args...)
	c.wait(2*time.Minute, 0)
	ck := parseStartCheck(t, c.output())
	realpeers.SameFiles(t, filepath.Join(src, "k"), filepath.Join(dst, "k"))
	t.Logf("%d kills mid-way; %d pieces trusted without hashing over the restarts; %d advertised and %d recorded pieces compared; last start %+v",
		midway, trusted, verified, claimed, ck)
	if midway < len(delays)/2 {
		t.Errorf("only %d of %d kills hit the client mid-way: the download was too quick to test", midway, len(delays))
	}
	if trusted == 0 || verified == 0 || claimed == 0 || withData < 3 {
		t.Errorf("%d pieces trusted, %d advertised and %d recorded pieces compared, %d restarts that found data: the resume path went untested",
			trusted, verified, claimed, withData)
	}
}

// finishedFirst says whether c exited, within a few seconds, after
// completing the download.
func finishedFirst(c *client) bool {
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		return false
	}
	return strings.Contains(c.output(), "download complete")
}

// checkRecord compares every piece the resume file in dir claims with the
// source and returns how many it claims; no resume file claims none.
func checkRecord(t *testing.T, kill int, dir string, m *metainfo.MetaInfo, source, onDisk torrentData) int {
	t.Helper()
	r, err := storage.LoadResume(dir, m.InfoHash)
	if errors.Is(err, storage.ErrNoResume) {
		return 0
	}
	if err != nil {
		t.Fatalf("kill %d: the resume file left behind: %v", kill, err)
	}
	have, err := bitfield.FromBytes(r.Have, m.Info.NumPieces())
	if err != nil {
		t.Fatalf("kill %d: the resume file's pieces: %v", kill, err)
	}
	for i := range have.Len() {
		if !have.Has(i) {
			continue
		}
		want, _ := source.piece(i)
		if got, ok := onDisk.piece(i); !ok || !bytes.Equal(got, want) {
			t.Fatalf("kill %d: the resume file claims piece %d, whose bytes on disk are not the source's", kill, i)
		}
	}
	return have.Count()
}
