package main

import (
	"github.com/torrent-dev/torrent/host/metainfo"
	"github.com/torrent-dev/torrent/host/selection"
	"github.com/torrent-dev/torrent/proto/hostpb"
	"github.com/torrent-dev/torrent/sdk/bitfield"
)

// jsonFileState is a file's state in `status -json` and the files event:
// chosen or not (the terminal UI's files view changes it while the client
// runs), its priority, and in status the bytes of it verified.
type jsonFileState struct {
	Path      string `json:"path"`
	Length    int64  `json:"length"`
	BytesDone *int64 `json:"bytes_done,omitempty"` // status only
	Skipped   bool   `json:"skipped"`
	Priority  string `json:"priority"` // low, normal, high
}

// jsonFiles is the files event: the file selection changed.
type jsonFiles struct {
	jsonHead
	Files []jsonFileState `json:"files"`
}

// filesEvent writes the files event if the selection changed since the
// start event or the last files event.
func (e *jsonEvents) filesEvent(src jsonSource) {
	sel := src.Sel()
	if sel == e.sel {
		return
	}
	e.sel = sel
	ev := jsonFiles{jsonHead: e.head("files"), Files: []jsonFileState{}}
	info := &e.m.Info
	for _, f := range info.Files {
		ev.Files = append(ev.Files, jsonFileState{Path: info.RelPath(f), Length: f.Length,
			Skipped: sel.Skips(info, f), Priority: sel.Priority(info, f).String()})
	}
	e.write(ev)
}

// priorityJSON is a priority as the start event shows it: empty (left
// out) for normal.
func priorityJSON(sel *selection.Selection, info *metainfo.Info, f metainfo.File) string {
	if p := sel.Priority(info, f); p != selection.Normal {
		return p.String()
	}
	return ""
}

// statusFiles is each file's state from the client's first update.
func statusFiles(t *hostpb.TorrentInfo, have bitfield.Bitfield) []jsonFileState {
	out := []jsonFileState{}
	pl := int64(t.GetPieceLength())
	for _, f := range t.GetFiles() {
		done := fileBytesDone(have, pl, int64(f.GetOffset()), int64(f.GetLength()))
		out = append(out, jsonFileState{Path: f.GetPath(), Length: int64(f.GetLength()), BytesDone: &done,
			Skipped: f.GetSkipped(), Priority: selection.Priority(f.GetPriority()).String()})
	}
	return out
}

// fileBytesDone is how many bytes of [off, off+n) lie in verified pieces.
func fileBytesDone(have bitfield.Bitfield, pieceLen, off, n int64) int64 {
	if pieceLen <= 0 || n <= 0 {
		return 0
	}
	var done int64
	for p := off / pieceLen; p*pieceLen < off+n; p++ {
		if have.Has(int(p)) {
			done += min(off+n, (p+1)*pieceLen) - max(off, p*pieceLen)
		}
	}
	return done
}
