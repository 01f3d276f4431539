package session

import (
	"strings"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/webseed"
)

// webSeeds prepares the torrent's web seeds (BEP 19 url-list) and those
// of Options.WebSeeds; a URL that cannot be used is logged and skipped.
func (s *Session) webSeeds() []*webseed.Seed {
	m := s.Meta()
	info := &m.Info
	l := webseed.Layout{Name: info.Name, MultiFile: info.MultiFile}
	for _, f := range info.Extents { // pad files included: they take their place in the data
		l.Files = append(l.Files, webseed.File{Path: f.Path, Length: f.Length, Pad: f.Pad || isPadFile(info, f)})
	}
	urls := m.WebSeeds()
	for _, u := range s.opts.WebSeeds {
		if !metainfo.UsableWebSeed(u) {
			s.log.Warn("ignoring web seed: not an http or https URL", "url", u)
			continue
		}
		urls = append(urls, u)
	}
	var seeds []*webseed.Seed
	seen := map[string]bool{}
	for _, u := range urls {
		if seen[u] {
			continue
		}
		seen[u] = true
		seed, err := webseed.New(u, l, webseed.Options{UserAgent: "torrent/0.1"})
		if err != nil {
			s.log.Warn("ignoring web seed", "error", err)
			continue
		}
		seeds = append(seeds, seed)
	}
	return seeds
}

// isPadFile says whether f is a padding file by its name, for torrents
// that do not mark them with BEP 47's attr p: no web seed has one, its
// bytes are zeros and are never fetched. They are named .pad/LENGTH
// (libtorrent) or _____padding_file_* (BitComet, older libtorrent).
func isPadFile(info *metainfo.Info, f metainfo.File) bool {
	if !info.MultiFile || len(f.Path) == 0 {
		return false
	}
	return (len(f.Path) == 2 && f.Path[0] == ".pad") || strings.HasPrefix(f.Path[len(f.Path)-1], "_____padding_file_")
}
