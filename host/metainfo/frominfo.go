package metainfo

import (
	"crypto/sha1"

	"github.com/anacrolix/torrent/bencode"
)

// FromInfo makes the .torrent file for an info dictionary fetched from
// peers (BEP 9), with trackers (a magnet link's tr, each its own tier) as
// announce and announce-list. The dictionary is embedded byte for byte,
// so the info-hash is the one it was fetched by. The result is parsed
// back: a dictionary that hashes right but is no valid torrent (a
// malicious or broken swarm) is an error here, like any bad .torrent.
func FromInfo(info []byte, trackers []string) ([]byte, *MetaInfo, error) {
	m := map[string]any{"info": bencode.Bytes(info), "created by": "torrent, from a magnet link"}
	if len(trackers) > 0 {
		m["announce"] = trackers[0]
		if len(trackers) > 1 {
			var tiers [][]string
			for _, u := range trackers {
				tiers = append(tiers, []string{u})
			}
			m["announce-list"] = tiers
		}
	}
	data, err := bencode.Marshal(m)
	if err != nil {
		return nil, nil, invalid("info dictionary: %v", err)
	}
	mi, err := Parse(data)
	if err != nil {
		return nil, nil, err
	}
	// Bytes that are not one whole bencoded value could make the file's
	// info span differ from what was fetched and hashed.
	if mi.InfoHash != sha1.Sum(info) {
		return nil, nil, invalid("info dictionary is not one bencoded value")
	}
	return data, mi, nil
}
