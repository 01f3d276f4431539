package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// Resume is what a session remembers between runs: totals, and the pieces
// verified with each file's stamp as it was once their data was on disk
// (Durable). At the next start a piece is trusted without hashing only if
// every file it touches still has its recorded stamp (Check); anything
// else is hashed, so a stale resume file can never make bad data count as
// complete.
type Resume struct {
	InfoHash   [20]byte
	Have       []byte // wire bitfield of verified pieces
	Uploaded   int64  // totals over all sessions
	Downloaded int64
	// Files holds one stamp per file of the layout, recorded after the
	// pieces in Have were made durable; a zero Stamp vouches for nothing.
	Files []Stamp
}

// Stamp is what a file looked like when the resume file vouched for its
// pieces: identity, size and both times. ctime is kept too because a
// program can set mtime back (touch -r) but not ctime.
type Stamp struct {
	Inode uint64
	Size  int64
	MTime int64 // nanoseconds since the epoch
	CTime int64
}

// Known reports whether the stamp vouches for anything.
func (st Stamp) Known() bool { return st != Stamp{} }

// ErrNoResume is returned by LoadResume when there is no resume file.
var ErrNoResume = errors.New("no resume state")

const (
	resumeMagic = "TZRESUME"
	// resumeVersion 2 added the file stamps; a version 1 file is refused
	// (the session then checks everything, as version 1 always did).
	resumeVersion = 2
	// magic, version, info-hash, up, down, file count, bitfield length
	resumeHeader  = 8 + 4 + 20 + 8 + 8 + 4 + 4
	stampLen      = 8 + 8 + 8 + 8
	maxResumeHave = 64 << 20
	maxFiles      = 1 << 22
)

// ResumePath is where the resume state of infoHash lives in dir.
func ResumePath(dir string, infoHash [20]byte) string {
	return filepath.Join(dir, ".torrent-"+hex.EncodeToString(infoHash[:])+".resume")
}

// PartsName is the parts file (Layout.Parts) of infoHash, next to its
// resume file.
func PartsName(infoHash [20]byte) string {
	return ".torrent-" + hex.EncodeToString(infoHash[:]) + ".parts"
}

// SelectionPath is where the files chosen and skipped while the torrent
// ran (selection.Marshal) are kept in dir, for the next run.
func SelectionPath(dir string, infoHash [20]byte) string {
	return filepath.Join(dir, ".torrent-"+hex.EncodeToString(infoHash[:])+".files")
}

// LoadResume reads the resume state for infoHash from dir.
func LoadResume(dir string, infoHash [20]byte) (*Resume, error) {
	p := ResumePath(dir, infoHash)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoResume
	}
	if err != nil {
		return nil, err
	}
	r, err := decodeResume(b)
	if err != nil {
		return nil, fmt.Errorf("resume file %s: %w", p, err)
	}
	if r.InfoHash != infoHash {
		return nil, fmt.Errorf("resume file %s is for torrent %x", p, r.InfoHash)
	}
	return r, nil
}

func decodeResume(b []byte) (*Resume, error) {
	if len(b) < 12+4 || string(b[:8]) != resumeMagic {
		return nil, errors.New("not a resume file")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checksum mismatch")
	}
	if v := binary.BigEndian.Uint32(b[8:]); v != resumeVersion {
		return nil, fmt.Errorf("format version %d, want %d", v, resumeVersion)
	}
	if len(body) < resumeHeader {
		return nil, fmt.Errorf("header cut short at %d bytes", len(body))
	}
	r := &Resume{}
	copy(r.InfoHash[:], b[12:32])
	r.Uploaded = int64(binary.BigEndian.Uint64(b[32:]))
	r.Downloaded = int64(binary.BigEndian.Uint64(b[40:]))
	nf, nh := binary.BigEndian.Uint32(b[48:]), binary.BigEndian.Uint32(b[52:])
	if nf > maxFiles || nh > maxResumeHave || uint64(len(body)) != resumeHeader+uint64(nh)+uint64(nf)*stampLen {
		return nil, fmt.Errorf("%d files and a bitfield of %d bytes in a file of %d", nf, nh, len(b))
	}
	if r.Uploaded < 0 || r.Downloaded < 0 {
		return nil, errors.New("negative totals")
	}
	r.Have = bytes.Clone(body[resumeHeader : resumeHeader+nh])
	p := body[resumeHeader+nh:]
	r.Files = make([]Stamp, nf)
	for i := range r.Files {
		q := p[i*stampLen:]
		r.Files[i] = Stamp{
			Inode: binary.BigEndian.Uint64(q),
			Size:  int64(binary.BigEndian.Uint64(q[8:])),
			MTime: int64(binary.BigEndian.Uint64(q[16:])),
			CTime: int64(binary.BigEndian.Uint64(q[24:])),
		}
	}
	return r, nil
}

func (r *Resume) encode() []byte {
	b := make([]byte, 0, resumeHeader+len(r.Have)+len(r.Files)*stampLen+4)
	b = append(b, resumeMagic...)
	b = binary.BigEndian.AppendUint32(b, resumeVersion)
	b = append(b, r.InfoHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Uploaded))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Downloaded))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Files)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Have)))
	b = append(b, r.Have...)
	for _, st := range r.Files {
		b = binary.BigEndian.AppendUint64(b, st.Inode)
		b = binary.BigEndian.AppendUint64(b, uint64(st.Size))
		b = binary.BigEndian.AppendUint64(b, uint64(st.MTime))
		b = binary.BigEndian.AppendUint64(b, uint64(st.CTime))
	}
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// SaveResume writes r atomically: after a crash at any moment the file is
// either the old state or the new one.
func SaveResume(dir string, r *Resume) error {
	if err := SaveFile(dir, ResumePath(dir, r.InfoHash), r.encode()); err != nil {
		return fmt.Errorf("save resume: %w", err)
	}
	return nil
}

// MetadataPath is where a magnet link's metadata is kept in dir, as a
// .torrent file next to the resume state, so a restart with the same link
// needs no peer to know the torrent.
func MetadataPath(dir string, infoHash [20]byte) string {
	return filepath.Join(dir, ".torrent-"+hex.EncodeToString(infoHash[:])+".torrent")
}

// SaveFile writes data to p (a file in dir) atomically: after a crash at
// any moment p holds either its old content or data.
func SaveFile(dir, p string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".torrent-save-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
