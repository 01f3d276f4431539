package hostapi

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/session"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// DirLibrary serves the torrents of a directory as earlier runs left them:
// verified pieces are read, missing ones fail at once.
type DirLibrary struct {
	torrents []dirTorrent
}

type dirTorrent struct {
	meta  *metainfo.MetaInfo
	store *storage.Storage
	have  bitfield.Bitfield
	dir   string
}

// OpenDir checks the data of every .torrent file in dir. A torrent that
// cannot be read is logged and left out.
func OpenDir(ctx context.Context, dir string, log hclog.Logger) (*DirLibrary, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.torrent"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	lib := &DirLibrary{}
	seen := map[[20]byte]bool{}
	for _, p := range paths {
		m, err := metainfo.Load(p)
		if err != nil {
			log.Warn("skipping torrent", "file", p, "error", err)
			continue
		}
		// A magnet link's metadata is saved as .torrent-HASH.torrent,
		// and -metadata-only writes NAME.torrent too: one torrent.
		if seen[m.InfoHash] {
			continue
		}
		seen[m.InfoHash] = true
		st, err := storage.Open(dir, session.Layout(&m.Info, nil))
		if err != nil {
			log.Warn("skipping torrent", "file", p, "error", err)
			continue
		}
		have, err := st.Verify(ctx, nil)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("check %s: %w", p, err)
		}
		log.Info("serving torrent", "name", m.Info.Name, "pieces", have.Count(), "of", m.Info.NumPieces())
		lib.torrents = append(lib.torrents, dirTorrent{meta: m, store: st, have: have, dir: dir})
	}
	if len(lib.torrents) == 0 {
		return nil, fmt.Errorf("no usable .torrent file in %s", dir)
	}
	return lib, nil
}

// Close closes the data files.
func (l *DirLibrary) Close() {
	for _, t := range l.torrents {
		t.store.Close()
	}
}

// Torrents implements Library.
func (l *DirLibrary) Torrents() []*hostpb.TorrentInfo {
	out := make([]*hostpb.TorrentInfo, len(l.torrents))
	for i, t := range l.torrents {
		out[i] = TorrentInfo(t.meta, t.dir)
	}
	return out
}

// Complete implements Library.
func (l *DirLibrary) Complete(torrent int, off, n int64) bool {
	if torrent < 0 || torrent >= len(l.torrents) {
		return false
	}
	t := l.torrents[torrent]
	return t.meta.Info.HasRange(off, n, t.have.Has)
}

// ReadAt implements Library: only verified pieces are served.
func (l *DirLibrary) ReadAt(_ context.Context, torrent int, p []byte, off, _ int64) (int, error) {
	if torrent < 0 || torrent >= len(l.torrents) {
		return 0, fmt.Errorf("no torrent %d", torrent)
	}
	t := l.torrents[torrent]
	info := &t.meta.Info
	if off < 0 || off >= info.Length {
		return 0, fmt.Errorf("read at %d: outside the torrent", off)
	}
	p = p[:min(int64(len(p)), info.Length-off)]
	if len(p) == 0 {
		return 0, nil
	}
	if !info.HasRange(off, int64(len(p)), t.have.Has) {
		// A directory mount downloads nothing: these will not come.
		return 0, fmt.Errorf("%s: pieces not downloaded: %w", info.Name, sdk.ErrUnavailable)
	}
	return t.store.ReadAt(p, off)
}
