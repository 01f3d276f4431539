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

// Resume is what a session remembers between runs. It is a hint: the data
// on disk is checked at every start, so a stale or corrupt resume file can
// never make bad data count as complete.
type Resume struct {
	InfoHash   [20]byte
	Have       []byte // wire bitfield of verified pieces
	Uploaded   int64  // totals over all sessions
	Downloaded int64
}

// ErrNoResume is returned by LoadResume when there is no resume file.
var ErrNoResume = errors.New("no resume state")

const (
	resumeMagic   = "TZRESUME"
	resumeVersion = 1
	resumeHeader  = 8 + 4 + 20 + 8 + 8 + 4 // magic, version, info-hash, up, down, bitfield length
	maxResumeHave = 64 << 20
)

// ResumePath is where the resume state of infoHash lives in dir.
func ResumePath(dir string, infoHash [20]byte) string {
	return filepath.Join(dir, ".torrent-"+hex.EncodeToString(infoHash[:])+".resume")
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
	if len(b) < resumeHeader+4 || string(b[:8]) != resumeMagic {
		return nil, errors.New("not a resume file")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checksum mismatch")
	}
	if v := binary.BigEndian.Uint32(b[8:]); v != resumeVersion {
		return nil, fmt.Errorf("version %d, want %d", v, resumeVersion)
	}
	r := &Resume{}
	copy(r.InfoHash[:], b[12:32])
	r.Uploaded = int64(binary.BigEndian.Uint64(b[32:]))
	r.Downloaded = int64(binary.BigEndian.Uint64(b[40:]))
	n := binary.BigEndian.Uint32(b[48:])
	if n > maxResumeHave || int(n) != len(body)-resumeHeader {
		return nil, fmt.Errorf("bitfield of %d bytes in a file of %d", n, len(b))
	}
	if r.Uploaded < 0 || r.Downloaded < 0 {
		return nil, errors.New("negative totals")
	}
	r.Have = bytes.Clone(body[resumeHeader:])
	return r, nil
}

func (r *Resume) encode() []byte {
	b := make([]byte, 0, resumeHeader+len(r.Have)+4)
	b = append(b, resumeMagic...)
	b = binary.BigEndian.AppendUint32(b, resumeVersion)
	b = append(b, r.InfoHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Uploaded))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Downloaded))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Have)))
	b = append(b, r.Have...)
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
