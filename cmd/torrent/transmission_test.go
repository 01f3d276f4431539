package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/torrent-dev/torrent/internal/realpeers"
)

// leechFromTransmission downloads a multi-file torrent from a real
// Transmission seeder, handed to the client with -peer, and returns the log.
func leechFromTransmission(t *testing.T, encryption string, args ...string) string {
	t.Helper()
	src := t.TempDir()
	realpeers.MakeData(t, src,
		realpeers.FileSpec{Path: "tr/a.bin", Size: 3<<20 + 77},
		realpeers.FileSpec{Path: "tr/empty"},
		realpeers.FileSpec{Path: "tr/sub/b.bin", Size: 1<<20 - 5})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "tr"), "", 16)
	seeder := realpeers.StartTransmission(t, torrent, src, encryption)
	dst := t.TempDir()
	c := startClient(t, append(args, "-v", "-seed=false", "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", seeder.Port), "-dir", dst, torrent)...)
	c.wait(2*time.Minute, 0)
	realpeers.SameFiles(t, filepath.Join(src, "tr"), filepath.Join(dst, "tr"))
	return c.output()
}

func TestLeechFromTransmission(t *testing.T) {
	t.Parallel()
	leechFromTransmission(t, "")
}

// A Transmission that accepts only encrypted connections hangs up on a
// plain handshake; the client then opens with MSE and gets the data.
func TestLeechFromTransmissionEncryptionRequired(t *testing.T) {
	t.Parallel()
	out := leechFromTransmission(t, "required")
	for _, want := range []string{`handshake failed, retrying the other way: .*encrypted=false`, `peer connected: .*outgoing=true mse=rc4`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("no %q in the log:\n%s", want, out)
		}
	}
}

// Seeding to a real Transmission leecher: it cannot be handed a peer and
// does not dial 127.0.0.1 peers a tracker returns, so the client dials it
// (-peer) and serves what it asks for.
func TestSeedToTransmission(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	realpeers.MakeData(t, src,
		realpeers.FileSpec{Path: "ts/a.bin", Size: 2<<20 + 11},
		realpeers.FileSpec{Path: "ts/b/c.bin", Size: 700_000})
	torrent := realpeers.MakeTorrent(t, filepath.Join(src, "ts"), "", 16)
	dst := t.TempDir()
	leecher := realpeers.StartTransmission(t, torrent, dst, "")
	startClient(t, "-up-rate", "0", "-peer", fmt.Sprintf("127.0.0.1:%d", leecher.Port), "-dir", src, torrent)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := leecher.WaitDone(ctx); err != nil {
		t.Fatal(err)
	}
	realpeers.SameFiles(t, filepath.Join(src, "ts"), filepath.Join(dst, "ts"))
}
