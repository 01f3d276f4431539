package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/torrent-dev/torrent/host/magnet"
)

// jsonMagnetInfo is `torrent info -json MAGNET`: what the link says; the
// rest of a torrent is known only once its metadata is fetched.
type jsonMagnetInfo struct {
	V        int      `json:"v"`
	Magnet   bool     `json:"magnet"` // always true: tells it from a .torrent's info
	Name     string   `json:"name"`
	InfoHash string   `json:"info_hash"`
	V2Hash   string   `json:"v2_hash,omitempty"`
	Trackers []string `json:"trackers"`
	Peers    []string `json:"peers"`
	WebSeeds []string `json:"web_seeds"`
	Select   []string `json:"select"` // so= ranges of file indices, "3" or "5-7"
}

func magnetInfo(w io.Writer, link string, asJSON bool) error {
	m, err := magnet.Parse(link)
	if err != nil {
		return usageError{err}
	}
	out := jsonMagnetInfo{V: jsonVersion, Magnet: true, Name: m.Name, InfoHash: hex.EncodeToString(m.InfoHash[:]),
		Trackers: append([]string{}, m.Trackers...), Peers: []string{}, WebSeeds: append([]string{}, m.WebSeeds...), Select: []string{}}
	if m.V2Hash != nil {
		out.V2Hash = hex.EncodeToString(m.V2Hash)
	}
	for _, p := range m.Peers {
		out.Peers = append(out.Peers, p.String())
	}
	for _, r := range m.Select {
		s := strconv.Itoa(r.First)
		if r.Last != r.First {
			s += "-" + strconv.Itoa(r.Last)
		}
		out.Select = append(out.Select, s)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "magnet link:  the files and pieces come with the metadata (torrent -metadata-only fetches it)\n")
	if out.Name != "" {
		fmt.Fprintf(w, "name:         %s\n", out.Name)
	}
	fmt.Fprintf(w, "info-hash:    %s\n", out.InfoHash)
	if out.V2Hash != "" {
		fmt.Fprintf(w, "v2 hash:      %s\n", out.V2Hash)
	}
	for _, t := range out.Trackers {
		fmt.Fprintf(w, "tracker:      %s\n", t)
	}
	for _, p := range out.Peers {
		fmt.Fprintf(w, "peer:         %s\n", p)
	}
	for _, ws := range out.WebSeeds {
		fmt.Fprintf(w, "web seed:     %s\n", ws)
	}
	if len(out.Select) > 0 {
		fmt.Fprintf(w, "files chosen: %s (indices in the file list)\n", strings.Join(out.Select, ","))
	}
	return nil
}
