package metainfo

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
)

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := bencode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func torrentWith(t testing.TB, info map[string]any) []byte {
	return enc(t, map[string]any{"announce": "http://127.0.0.1:1/announce", "info": info})
}

func multi(files ...map[string]any) map[string]any {
	var total int64
	for _, f := range files {
		total += f["length"].(int64)
	}
	n := (total + 15) / 16
	return map[string]any{"name": "d", "piece length": int64(16), "pieces": strings.Repeat("x", int(20*n)), "files": files}
}

func file(length int64, path ...string) map[string]any {
	return map[string]any{"length": length, "path": path}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		info    map[string]any
		wantErr string
	}{
		"single":           {map[string]any{"name": "a", "piece length": int64(16), "pieces": strings.Repeat("x", 40), "length": int64(17)}, ""},
		"multi with empty": {multi(file(10, "a"), file(0, "b", "empty"), file(23, "b", "c")), ""},
		"only empty files": {multi(file(0, "a"), file(0, "b")), ""},
		"dotdot":           {multi(file(1, "..", "x")), `".."`},
		"slash in part":    {multi(file(1, "a/b")), "separator"},
		"backslash":        {multi(file(1, `a\b`)), "separator"},
		"empty part":       {multi(file(1, "")), "empty path component"},
		"empty path":       {multi(map[string]any{"length": int64(1), "path": []string{}}), "empty path"},
		"dot":              {multi(file(1, ".")), `"."`},
		"duplicate":        {multi(file(1, "a"), file(1, "a")), "twice"},
		"file and dir":     {multi(file(1, "a"), file(1, "a", "b")), "both a file and a directory"},
		"negative":         {map[string]any{"name": "a", "piece length": int64(16), "pieces": "", "length": int64(-1)}, "negative"},
		"bad name":         {map[string]any{"name": "..", "piece length": int64(16), "pieces": "", "length": int64(0)}, "name"},
		"slash name":       {map[string]any{"name": "/etc", "piece length": int64(16), "pieces": "", "length": int64(0)}, "name"},
		"zero piece len":   {map[string]any{"name": "a", "piece length": int64(0), "pieces": "", "length": int64(0)}, "piece length"},
		"pieces not x20":   {map[string]any{"name": "a", "piece length": int64(16), "pieces": "abc", "length": int64(1)}, "multiple of 20"},
		"piece count":      {map[string]any{"name": "a", "piece length": int64(16), "pieces": strings.Repeat("x", 20), "length": int64(17)}, "piece hashes"},
		"no length":        {map[string]any{"name": "a", "piece length": int64(16), "pieces": ""}, "neither"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse(torrentWith(t, tc.info))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				var sum int64
				for _, f := range m.Info.Files {
					if f.Offset != sum {
						t.Fatalf("file %v at offset %d, want %d", f.Path, f.Offset, sum)
					}
					sum += f.Length
				}
				if sum != m.Info.Length {
					t.Fatalf("Length %d, files sum to %d", m.Info.Length, sum)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseGarbage(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "d", "le", "i1e", "d4:infoi1ee", "d4:infod4:name1:aee", "d8:announce3:abce"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}

func TestTrackers(t *testing.T) {
	t.Parallel()
	m := &MetaInfo{Announce: "http://a/announce", AnnounceList: [][]string{{"udp://b:1", "http://a/announce", "ftp://x"}, {}, {"https://c/ann"}}}
	got := fmt.Sprint(m.Trackers())
	if want := "[[udp://b:1 http://a/announce] [https://c/ann]]"; got != want {
		t.Fatalf("Trackers = %s, want %s", got, want)
	}
	m = &MetaInfo{Announce: "http://a/announce"}
	if got := fmt.Sprint(m.Trackers()); got != "[[http://a/announce]]" {
		t.Fatalf("Trackers = %s", got)
	}
}

// writeTree makes a tree with an empty file, odd sizes and names whose
// byte order differs from directory-walk order ("a-c" < "a/b").
func writeTree(t testing.TB, root string) {
	t.Helper()
	for p, size := range map[string]int{"a/b": 70000, "a-c": 1, "empty": 0, "z/y/x.bin": 300001, "m": 16384} {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + len(p))
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Our pieces and info-hash agree with mktorrent's file, and libtorrent
// computes the same info-hash for it as we do.
func TestAgainstMktorrentAndLibtorrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	writeTree(t, root)
	mk := filepath.Join(dir, "mk.torrent")
	if out, err := exec.Command("mktorrent", "-l", "16", "-a", "http://127.0.0.1:1/announce", "-o", mk, root).CombinedOutput(); err != nil {
		t.Fatalf("mktorrent: %v\n%s", err, out)
	}
	theirs, err := Load(mk)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Create(root, CreateOptions{Announce: []string{"http://127.0.0.1:1/announce"}, PieceLength: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ours.Info.Pieces) != fmt.Sprint(theirs.Info.Pieces) || fmt.Sprint(ours.Info.Files) != fmt.Sprint(theirs.Info.Files) {
		t.Fatalf("pieces or files differ from mktorrent's:\nours   %v\ntheirs %v", ours.Info.Files, theirs.Info.Files)
	}
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import libtorrent as lt,sys; print(lt.torrent_info(sys.argv[1]).info_hash())", mk).CombinedOutput()
	if err != nil {
		t.Fatalf("libtorrent: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("%x", theirs.InfoHash) {
		t.Fatalf("libtorrent says info-hash %s, we say %x", got, theirs.InfoHash)
	}
	raw, _ := os.ReadFile(mk)
	if sha1.Sum(theirs.InfoBytes) != theirs.InfoHash || !bytes.Contains(raw, theirs.InfoBytes) {
		t.Fatalf("InfoBytes (%d bytes) are not the file's info dictionary", len(theirs.InfoBytes))
	}
}

func TestCreateSingleFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "one.bin")
	os.WriteFile(p, make([]byte, 100000), 0o644)
	data, err := Create(p, CreateOptions{PieceLength: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.MultiFile || m.Info.Name != "one.bin" || m.Info.NumPieces() != 4 || m.Info.PieceSize(3) != 100000-3*(32<<10) {
		t.Fatalf("got %+v", m.Info)
	}
	if got := m.Info.RelPath(m.Info.Files[0]); got != "one.bin" {
		t.Fatalf("RelPath = %q", got)
	}
}

func TestChoosePieceLength(t *testing.T) {
	t.Parallel()
	for total, want := range map[int64]int64{0: 16 << 10, 1 << 20: 16 << 10, 1 << 30: 1 << 20, 1 << 40: 16 << 20} {
		if got := choosePieceLength(total); got != want {
			t.Errorf("choosePieceLength(%d) = %d, want %d", total, got, want)
		}
	}
}
