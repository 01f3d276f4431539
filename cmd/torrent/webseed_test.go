package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
	"github.com/torrent-dev/torrent/internal/testbin"
)

// create -w writes the web seeds, info lists them (an unusable one
// marked), and the binary downloads the torrent from its web seed alone.
func TestCreateWebSeedInfoDownload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	realpeers.MakeData(t, dir)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	other := "http://127.0.0.1:1/pub/" // nothing listens there
	out, code := runTorrent(t, dir, "create", "-w", srv.URL+"/", "-w", other, "-o", "w.torrent", "tree")
	if code != 0 {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	out, code = runTorrent(t, dir, "info", "w.torrent")
	for _, want := range []string{"web seed:     " + srv.URL + "/\n", "web seed:     " + other + "\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("info lacks %q (exit %d):\n%s", want, code, out)
		}
	}
	out, code = runTorrent(t, dir, "info", "-json", "w.torrent")
	var info struct {
		WebSeeds []string `json:"web_seeds"`
	}
	if err := json.Unmarshal([]byte(out), &info); code != 0 || err != nil || !slices.Equal(info.WebSeeds, []string{srv.URL + "/", other}) {
		t.Fatalf("info -json: exit %d, %v, web seeds %q:\n%s", code, err, info.WebSeeds, out)
	}
	if out, code = runTorrent(t, dir, "create", "-w", "ftp://x/", "tree"); code != 2 || !strings.Contains(out, "want an http or https URL") {
		t.Fatalf("create -w ftp://: exit %d\n%s", code, out)
	}

	// No tracker, no peer: the data comes from the web seed; the other
	// refuses connections and is backed off.
	dl := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(testbin.Build(t), "torrent"), "-seed=false", "-dir", dl, filepath.Join(dir, "w.torrent"))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("download from the web seed: %v\n%s", err, b)
	}
	realpeers.SameFiles(t, filepath.Join(dir, "tree"), filepath.Join(dl, "tree"))
	if !strings.Contains(string(b), "web seed failed; backing off") {
		t.Errorf("no backoff of the dead web seed in the output:\n%s", b)
	}
}
