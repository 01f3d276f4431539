package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
)

// seedToLibtorrent seeds the default tree with bin/torrent to a libtorrent
// leecher using the given MSE policy; it returns our client's debug log.
func seedToLibtorrent(t *testing.T, encryption string) string {
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	port := realpeers.FreePort(t)
	c := startClient(t, "-v", "-up-rate", "0", "-port", strconv.Itoa(port), "-dir", src, torrent)
	c.waitFor(regexp.MustCompile(`checked data on disk`), 30*time.Second)
	dst := t.TempDir()
	leecher := realpeers.StartLibtorrentLeecher(t, torrent, dst, realpeers.LTOptions{
		ConnectTo: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Encryption: encryption})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatalf("libtorrent leecher: %v", err)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	return c.output()
}

var (
	mseRC4Re   = regexp.MustCompile(`peer connected: .*outgoing=false mse=rc4`)
	msePlainRe = regexp.MustCompile(`peer connected: .*outgoing=false mse=plaintext`)
)

// libtorrent's defaults open with MSE and fall back to plain only after
// that fails, about a second per connection: the connection we accept
// must be that MSE one. It offers plaintext too, which we select.
func TestSeedToLibtorrentDefaultEncryption(t *testing.T) {
	t.Parallel()
	if out := seedToLibtorrent(t, ""); !msePlainRe.MatchString(out) {
		t.Fatal("libtorrent's connection did not come in through MSE (plaintext selected)")
	}
}

// A libtorrent that allows only RC4-encrypted connections can download
// from us only if our receiving side of MSE works.
func TestSeedToLibtorrentForcedEncryption(t *testing.T) {
	t.Parallel()
	if out := seedToLibtorrent(t, "forced"); !mseRC4Re.MatchString(out) {
		t.Fatal("no rc4 connection in our log")
	}
}

// -encrypt: our initiating side against a libtorrent seeder that refuses
// plain connections.
func TestLeechEncryptedFromForcedLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{Encryption: "forced"})
	dst := t.TempDir()
	c := startClient(t, "-encrypt", "-v", "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
	if !regexp.MustCompile(`peer connected: .*outgoing=true mse=rc4`).MatchString(c.output()) {
		t.Fatalf("no outgoing RC4 connection in the log:\n%s", c.output())
	}
}
