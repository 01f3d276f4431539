package metainfo

import (
	"crypto/sha1"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
)

func TestFromInfo(t *testing.T) {
	t.Parallel()
	orig := torrentWith(t, multi(file(10, "a"), file(23, "b", "c")))
	var raw struct {
		Info bencode.Bytes `bencode:"info"`
	}
	if err := bencode.Unmarshal(orig, &raw); err != nil {
		t.Fatal(err)
	}
	want, err := Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	data, mi, err := FromInfo(raw.Info, []string{"udp://127.0.0.1:1", "http://127.0.0.1:2/announce"})
	if err != nil {
		t.Fatal(err)
	}
	if mi.InfoHash != want.InfoHash || mi.InfoHash != sha1.Sum(raw.Info) || !reflect.DeepEqual(mi.Info, want.Info) {
		t.Fatalf("info-hash %x, want %x; info %+v", mi.InfoHash, want.InfoHash, mi.Info)
	}
	if tiers := mi.Trackers(); !reflect.DeepEqual(tiers, [][]string{{"udp://127.0.0.1:1"}, {"http://127.0.0.1:2/announce"}}) {
		t.Fatalf("trackers %v", tiers)
	}
	// What it writes is a .torrent like any other.
	again, err := Parse(data)
	if err != nil || again.InfoHash != want.InfoHash {
		t.Fatalf("re-parse: %v", err)
	}
	if _, mi, err := FromInfo(raw.Info, nil); err != nil || len(mi.Trackers()) != 0 {
		t.Fatalf("no trackers: %v, %v", mi, err)
	}
}

func TestFromInfoRefuses(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		info string
		want error
	}{
		"not a dict":    {"i5e", ErrInvalid},
		"no pieces":     {"d4:name1:a12:piece lengthi16e6:lengthi1ee", ErrInvalid},
		"path escapes":  {"d5:filesld6:lengthi1e4:pathl2:..1:xeee4:name1:a12:piece lengthi16e6:pieces20:" + strings.Repeat("x", 20) + "e", ErrInvalid},
		"v2 only":       {"d9:file treede12:meta versioni2e4:name1:a12:piece lengthi16384ee", ErrV2Only},
		"truncated":     {"d4:name1:a", ErrInvalid},
		"trailing junk": {"dee", ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := FromInfo([]byte(tc.info), nil); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}
