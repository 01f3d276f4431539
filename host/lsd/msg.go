package lsd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxMsg bounds what is read of one datagram: a real announce of one
// torrent is about 150 bytes, one of many torrents a few KiB.
const maxMsg = 8 << 10

// Msg is one BT-SEARCH announce.
type Msg struct {
	Port       uint16
	InfoHashes [][20]byte
	Cookie     string
}

// Marshal writes the announce as BEP 14 gives it, with the host line for
// group (the IPv4 or IPv6 group and port).
func (m Msg) Marshal(group string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "BT-SEARCH * HTTP/1.1\r\nHost: %s\r\nPort: %d\r\n", group, m.Port)
	for _, ih := range m.InfoHashes {
		fmt.Fprintf(&b, "Infohash: %x\r\n", ih)
	}
	if m.Cookie != "" {
		fmt.Fprintf(&b, "cookie: %s\r\n", m.Cookie)
	}
	b.WriteString("\r\n\r\n")
	return b.Bytes()
}

var errNotSearch = errors.New("not a BT-SEARCH announce")

// Parse reads an announce. Header names are case-insensitive (libtorrent
// sends "cookie" in lower case); unknown headers are ignored; an info-hash
// that is not 40 hex digits is an error for the whole message.
func Parse(b []byte) (Msg, error) {
	var m Msg
	if len(b) > maxMsg {
		return m, fmt.Errorf("announce of %d bytes is over %d", len(b), maxMsg)
	}
	lines := strings.Split(string(b), "\n")
	if strings.TrimRight(lines[0], "\r") != "BT-SEARCH * HTTP/1.1" {
		return m, errNotSearch
	}
	havePort := false
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			return m, fmt.Errorf("header line without a colon: %.40q", l)
		}
		val = strings.TrimSpace(val)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "port":
			p, err := strconv.ParseUint(val, 10, 16)
			if err != nil || p == 0 {
				return m, fmt.Errorf("bad port %.20q", val)
			}
			m.Port, havePort = uint16(p), true
		case "infohash":
			var ih [20]byte
			if len(val) != 40 {
				return m, fmt.Errorf("info-hash %.50q is not 40 hex digits", val)
			}
			if _, err := hex.Decode(ih[:], []byte(val)); err != nil {
				return m, fmt.Errorf("info-hash %.50q is not 40 hex digits", val)
			}
			m.InfoHashes = append(m.InfoHashes, ih)
		case "cookie":
			m.Cookie = val
		}
	}
	if !havePort {
		return m, errors.New("no port")
	}
	if len(m.InfoHashes) == 0 {
		return m, errors.New("no info-hash")
	}
	return m, nil
}
