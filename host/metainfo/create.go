package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// CreateOptions shape a new torrent.
type CreateOptions struct {
	Announce []string // each URL becomes its own tier
	// AnnounceTiers are tiers of one or more URLs each, after Announce's.
	AnnounceTiers [][]string
	PieceLength   int64 // 0: chosen from the total size
	Comment       string
	Private       bool
	// Source goes in the info dictionary: private trackers use it so
	// that one content makes a different info-hash for each of them.
	Source string
	// WebSeeds are written as url-list (BEP 19).
	WebSeeds []string
	// Progress, if set, is called from time to time with bytes hashed.
	Progress func(done, total int64)
}

// Create hashes a file or a directory tree and returns the .torrent bytes.
// Files are taken in byte order of their paths, as mktorrent does, so both
// tools make the same pieces; symbolic links are followed to regular files.
func Create(root string, opt CreateOptions) ([]byte, error) {
	root = filepath.Clean(root)
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(root)
	if err := checkComponent(name); err != nil {
		return nil, fmt.Errorf("torrent name: %w", err)
	}
	files, err := rootFiles(root, st)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += f.length
	}
	pl := opt.PieceLength
	if pl == 0 {
		pl = choosePieceLength(total)
	}
	if pl <= 0 || pl > maxPieceLength {
		return nil, fmt.Errorf("piece length %d", pl)
	}
	pieces, err := hashFiles(files, total, pl, opt.Progress)
	if err != nil {
		return nil, err
	}
	info := map[string]any{"name": name, "piece length": pl, "pieces": string(pieces)}
	if st.Mode().IsRegular() {
		info["length"] = total
	} else {
		var fl []map[string]any
		for _, f := range files {
			rel, _ := filepath.Rel(root, f.path)
			fl = append(fl, map[string]any{"length": f.length, "path": strings.Split(filepath.ToSlash(rel), "/")})
		}
		info["files"] = fl
	}
	if opt.Private {
		info["private"] = 1
	}
	if opt.Source != "" {
		info["source"] = opt.Source
	}
	m := map[string]any{"info": info, "created by": "torrent", "creation date": time.Now().Unix()}
	tiers := make([][]string, 0, len(opt.Announce)+len(opt.AnnounceTiers))
	for _, u := range opt.Announce {
		tiers = append(tiers, []string{u})
	}
	addAnnounce(m, append(tiers, opt.AnnounceTiers...))
	if len(opt.WebSeeds) > 0 {
		m["url-list"] = opt.WebSeeds
	}
	if opt.Comment != "" {
		m["comment"] = opt.Comment
	}
	return bencode.Marshal(m)
}

// rootFiles lists the files of a torrent made of root: root itself, or
// the files under it.
func rootFiles(root string, st os.FileInfo) ([]diskFile, error) {
	switch {
	case st.Mode().IsRegular():
		return []diskFile{{path: root, length: st.Size()}}, nil
	case st.IsDir():
		files, err := listFiles(root)
		if err == nil && len(files) == 0 {
			err = fmt.Errorf("%s has no files", root)
		}
		return files, err
	}
	return nil, fmt.Errorf("%s is neither a file nor a directory", root)
}

// addAnnounce sets the trackers: the first URL as announce, and all the
// tiers as announce-list when there is more than one URL (BEP 12).
func addAnnounce(m map[string]any, tiers [][]string) {
	tiers = slices.DeleteFunc(tiers, func(t []string) bool { return len(t) == 0 })
	if len(tiers) == 0 {
		return
	}
	m["announce"] = tiers[0][0]
	if len(tiers) > 1 || len(tiers[0]) > 1 {
		m["announce-list"] = tiers
	}
}

// choosePieceLength aims at about 1500 pieces, between 16 KiB and 16 MiB.
func choosePieceLength(total int64) int64 {
	target := total / 1500
	pl := int64(1) << bits.Len64(uint64(max(target, 1)-1))
	return min(max(pl, 16<<10), 16<<20)
}

type diskFile struct {
	path   string
	length int64
}

func listFiles(root string) ([]diskFile, error) {
	var files []diskFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		st, err := os.Stat(p) // follows links
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		for _, c := range strings.Split(filepath.ToSlash(rel), "/") {
			if err := checkComponent(c); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		files = append(files, diskFile{path: p, length: st.Size()})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, err
}

// hashFiles hashes the concatenated files in pieces on every core.
func hashFiles(files []diskFile, total, pl int64, progress func(done, total int64)) ([]byte, error) {
	n := int((total + pl - 1) / pl)
	out := make([]byte, 20*n)
	handles := make([]*os.File, len(files))
	for i, f := range files {
		h, err := os.Open(f.path)
		if err != nil {
			closeAll(handles)
			return nil, err
		}
		handles[i] = h
	}
	defer closeAll(handles)
	var next atomic.Int64
	var done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, pl)
			for {
				p := int(next.Add(1) - 1)
				if p >= n {
					return
				}
				size := min(pl, total-int64(p)*pl)
				if err := readSpan(files, handles, buf[:size], int64(p)*pl); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				sum := sha1.Sum(buf[:size])
				copy(out[20*p:], sum[:])
				d := done.Add(size)
				if progress != nil {
					mu.Lock()
					progress(d, total)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// readSpan fills p from the concatenation of files at offset off.
func readSpan(files []diskFile, handles []*os.File, p []byte, off int64) error {
	var start int64
	for i, f := range files {
		end := start + f.length
		if off < end && len(p) > 0 {
			k := min(int64(len(p)), end-off)
			if _, err := handles[i].ReadAt(p[:k], off-start); err != nil {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("%s changed size while hashing", f.path)
				}
				return err
			}
			p, off = p[k:], off+k
		}
		start = end
	}
	return nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}
