package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/session"
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

// Our initiating side (session.Options.EncryptOutgoing, no CLI flag yet)
// against a libtorrent seeder that refuses plain connections.
func TestLeechEncryptedFromForcedLibtorrent(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src)
	torrent := realpeers.MakeTorrent(t, src, "", 18)
	seeder := realpeers.StartLibtorrentSeeder(t, torrent, src, realpeers.LTOptions{Encryption: "forced"})
	dst := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := session.Open(torrent, session.Options{
		Dir: dst, Listener: ln, EncryptOutgoing: true,
		Peers:  []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(seeder.Port))},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: testLogWriter{t}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("not complete in time: %d pieces missing", s.Stats().Missing)
	}
	realpeers.SameFiles(t, filepath.Join(src, "tree"), filepath.Join(dst, "tree"))
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}
