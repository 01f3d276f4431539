package session

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/torrent-dev/torrent/host/magnet"
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm/addrbook"
)

// OpenMagnet prepares a session for a magnet link. If an earlier run in
// opts.Dir saved the torrent's metadata, it is known at once and nothing
// is asked of the network for it; otherwise Meta is nil until Run (or
// FetchMetadata) has fetched it from peers.
func OpenMagnet(m *magnet.Magnet, opts Options) (*Session, error) {
	opts.WebSeeds = append(opts.WebSeeds, m.WebSeeds...) // ws=
	s := newSession(m.InfoHash, opts)
	s.magnet = m
	data, mi, err := loadMetadata(s.opts.Dir, m.InfoHash)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		s.log.Warn("ignoring the saved metadata; fetching it again", "error", err)
	default:
		s.torrent = data
		if err := s.setMeta(mi, infoOf(data, m.InfoHash)); err != nil {
			return nil, err
		}
		s.log.Info("metadata known from an earlier run", "file", storage.MetadataPath(s.opts.Dir, m.InfoHash))
	}
	return s, nil
}

// loadMetadata reads the .torrent saved for infoHash in dir; it is an
// error when the file is not a torrent of that info-hash.
func loadMetadata(dir string, infoHash [20]byte) ([]byte, *metainfo.MetaInfo, error) {
	p := storage.MetadataPath(dir, infoHash)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	mi, err := parseSaved(data, infoHash)
	if err != nil {
		return nil, nil, fmt.Errorf("saved metadata %s: %w", p, err)
	}
	return data, mi, nil
}

// parseSaved checks a saved .torrent against the info-hash it is saved
// under: a file damaged on disk, or another torrent's, is refused.
func parseSaved(data []byte, infoHash [20]byte) (*metainfo.MetaInfo, error) {
	mi, err := metainfo.Parse(data)
	if err != nil {
		return nil, err
	}
	if mi.InfoHash != infoHash {
		return nil, fmt.Errorf("it is torrent %x, not %x", mi.InfoHash, infoHash)
	}
	return mi, nil
}

// infoOf is the raw info dictionary of a .torrent file of infoHash; nil
// if it is not there (then it is not served).
func infoOf(torrent []byte, infoHash [20]byte) []byte {
	info, err := metainfo.RawInfo(torrent)
	if err != nil || sha1.Sum(info) != infoHash {
		return nil
	}
	return info
}

// TorrentFile is the .torrent file of a magnet link's metadata, with the
// link's trackers; nil for a session opened from a .torrent file or
// before the metadata is known.
func (s *Session) TorrentFile() []byte {
	if s.Meta() == nil {
		return nil
	}
	return s.torrent
}

// MetadataStatus is the progress of the metadata phase.
type MetadataStatus struct {
	Peers int // connected peers
	Known int // addresses known
	Have  int // metadata pieces fetched, of Total (0 until a peer says the size)
	Total int
}

// MetadataStatus reports the metadata phase; ok is false when there is
// none under way (a .torrent file, or the metadata is known).
func (s *Session) MetadataStatus() (st MetadataStatus, ok bool) {
	if s.Meta() != nil {
		return st, false
	}
	if f := s.fetcher.Load(); f != nil {
		return f.Status(), true
	}
	return st, true
}

// FetchMetadata fetches a magnet link's info dictionary from peers (its
// x.pe, -peer, its trackers), checks it against the info-hash, saves it
// as a .torrent in the data directory, and makes the torrent known. It
// returns at once when the metadata is known, and ctx's error if ctx ends
// first. Peers that send metadata that does not match, or announce a size
// over the cap, are banned, also for the swarm that follows.
func (s *Session) FetchMetadata(ctx context.Context) error {
	if s.Meta() != nil {
		return nil
	}
	if s.magnet == nil {
		return errors.New("no metadata and no magnet link")
	}
	f := newFetcher(s.infoHash, s.peerID, s.opts.MaxPeers, s.log.Named("metadata"))
	f.encrypt, f.ln = s.opts.EncryptOutgoing, s.opts.Listener
	s.fetcher.Store(f)
	s.feed.setTarget(f.add)
	s.feed.add(addrbook.User, s.opts.Peers)
	s.feed.add(addrbook.Magnet, s.magnet.Peers)
	s.sources.start(ctx, s)
	s.log.Info("fetching metadata", "info_hash", fmt.Sprintf("%x", s.infoHash), "peers", len(s.opts.Peers)+len(s.magnet.Peers),
		"trackers", len(s.magnet.Trackers))
	info, bans, err := f.run(ctx)
	s.bans = bans
	s.adoptions.put(f.adopted)
	f.handOn(s.feed.add)
	if err != nil {
		return err
	}
	data, mi, err := metainfo.FromInfo(info, s.magnet.Trackers)
	if err != nil {
		// It hashes to the info-hash, so the swarm shares it: nothing
		// else will come.
		return fmt.Errorf("the metadata of %x: %w", s.infoHash, err)
	}
	if sha1.Sum(info) != s.infoHash {
		return fmt.Errorf("metadata does not match the info-hash") // the Assembler checked: cannot happen
	}
	if err := storage.SaveFile(s.opts.Dir, storage.MetadataPath(s.opts.Dir, s.infoHash), data); err != nil {
		// The download can go on; a restart fetches the metadata again.
		s.log.Warn("saving the metadata; a restart will fetch it again", "error", err)
	}
	s.torrent = data
	if err := s.setMeta(mi, info); err != nil {
		return err
	}
	s.log.Info("metadata fetched", "name", mi.Info.Name, "size", mi.Info.Length, "pieces", mi.Info.NumPieces())
	if mi.Info.Private {
		s.sources.private()
		s.log.Info("private torrent: DHT lookups for it stopped")
	}
	return nil
}

// TrackerTiers are the torrent's tracker tiers: the .torrent's, or before
// the metadata is known the magnet link's.
func (s *Session) TrackerTiers() [][]string {
	if m := s.Meta(); m != nil {
		return m.Trackers()
	}
	if s.magnet != nil {
		return s.magnet.TrackerTiers()
	}
	return nil
}

// String describes the metadata phase for people: "fetching metadata:
// 1/2 pieces, 3 peers (5 known)".
func (st MetadataStatus) String() string {
	pieces := "size not known yet"
	if st.Total > 0 {
		pieces = fmt.Sprintf("%d/%d pieces", st.Have, st.Total)
	}
	return fmt.Sprintf("fetching metadata: %s, %d peers (%d known)", pieces, st.Peers, st.Known)
}

// Logger is the session's logger.
func (s *Session) Logger() hclog.Logger { return s.log }

// Close ends the peer sources FetchMetadata started (the tracker hears
// "stopped") and closes the data files, for a session that does not go on
// to Run (-metadata-only); Run does both by itself. Call it instead of
// Run or after Run has returned.
func (s *Session) Close() {
	s.adoptions.close()
	s.sources.stop()
	if s.store != nil {
		s.store.Close()
	}
}
