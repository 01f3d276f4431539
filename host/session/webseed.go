package session

import (
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
		l.Files = append(l.Files, webseed.File{Path: f.Path, Length: f.Length, Pad: f.Pad})
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
