package session

import (
	"errors"

	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/selection"
	"github.com/torrent-dev/torrent/host/storage"
	"github.com/torrent-dev/torrent/host/swarm"
)

// ErrNoMetadata refuses a file change before a magnet link's metadata
// is known: there are no files yet.
var ErrNoMetadata = errors.New("the torrent's metadata is not known yet")

// SetFile chooses (skip false) or skips file i (an index in the torrent's
// file list, Meta().Info.Files) and gives it priority prio, while the
// session runs or before. Skipping a file stops requests for the pieces
// only it needs (pieces on disk stay); choosing one fetches its pieces,
// and bytes of it kept in the parts file move to the real file. Progress,
// completion and the end of a run without Seed follow the new selection.
// Leaving no file chosen is refused (selection.ErrNothingLeft). The next
// run in the same directory starts with these choices unless -only or
// -skip are given.
func (s *Session) SetFile(i int, skip bool, prio selection.Priority) error {
	m := s.Meta()
	if m == nil {
		return ErrNoMetadata
	}
	s.selMu.Lock()
	defer s.selMu.Unlock()
	cur := s.Sel()
	n, err := cur.With(&m.Info, i, skip, prio)
	if err != nil {
		return err
	}
	f := m.Info.Files[i]
	if cur.Skips(&m.Info, f) != skip {
		if err := s.store.SetSkip(extentOf(&m.Info, i), skip); err != nil {
			return err
		}
	}
	s.sel.Store(n)
	// Kept for the next run; the change stands for this one either way.
	if err := storage.SaveFile(s.opts.Dir, storage.SelectionPath(s.opts.Dir, m.InfoHash), n.Marshal(&m.Info)); err != nil {
		s.log.Warn("saving the file choices for the next run", "error", err)
	}
	if sw := s.swarm.Load(); sw != nil {
		s.applySelection(sw)
	}
	s.log.Info("file selection changed", "file", m.Info.RelPath(f), "skipped", skip, "priority", prio.String())
	return nil
}

// applySelection hands the current selection to the swarm and the picker.
func (s *Session) applySelection(sw *swarm.Swarm) {
	sel := s.Sel()
	sw.SetSelection(swarm.Selection{Wanted: sel.Wanted(), High: sel.High(), Low: sel.Low()})
	if pm := s.picker.Load(); pm != nil {
		pm.SetWanted(sel.Wanted())
	}
}

// extentOf is the index in info.Extents (the storage layout's files, pad
// files included) of file i of info.Files; -1 if there is none.
func extentOf(info *metainfo.Info, i int) int {
	k := -1
	for j, f := range info.Extents {
		if !f.Pad {
			k++
		}
		if k == i {
			return j
		}
	}
	return -1 // With checked i; storage refuses -1 anyway
}
