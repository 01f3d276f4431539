package wire

import "fmt"

// azureus maps the two letters of Azureus-style peer ids (-XXvvvv-) to
// client names; the most common clients only.
var azureus = map[string]string{
	"qB": "qBittorrent", "lt": "libtorrent", "LT": "libtorrent", "TR": "Transmission", "UT": "µTorrent",
	"DE": "Deluge", "AZ": "Vuze", "BT": "BitTorrent", "KT": "KTorrent", "AR": "Ares", "BI": "BiglyBT",
	"TZ": "torrent", "RN": "rain", "WW": "WebTorrent", "FD": "Free Download Manager", "TL": "Tribler",
	"A2": "aria2", "BC": "BitComet", "FX": "Flashget", "XL": "Xunlei", "LW": "LimeWire",
}

// ClientName guesses the client behind a peer id, e.g. "qBittorrent 4.6.5".
func ClientName(id [20]byte) string {
	if id[0] == '-' && id[7] == '-' {
		code, ver := string(id[1:3]), id[3:7]
		name, ok := azureus[code]
		if !ok {
			name = printable(id[1:3])
		}
		v := make([]byte, 0, 8)
		for i, c := range ver {
			if i > 0 && (c != '0' || i < 3) {
				v = append(v, '.')
			}
			if c == '0' && i == 3 {
				break
			}
			v = append(v, c)
		}
		return fmt.Sprintf("%s %s", name, v)
	}
	if id[0] == 'A' && id[1] == '2' { // aria2: A2-1-36-0-
		return "aria2 " + printable(id[3:10])
	}
	if id[0] == 'M' && id[2] == '-' { // Mainline: M7-2-3--
		return "BitTorrent " + printable(id[1:8])
	}
	return "unknown " + printable(id[:8])
}

func printable(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		} else {
			out = append(out, '?')
		}
	}
	return string(out)
}
