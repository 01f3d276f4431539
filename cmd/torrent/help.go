package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagExamples holds a one-line example of every flag, by flag set name;
// printFlags shows it under the flag's description, and TestHelpExamples
// fails for a flag without one.
var flagExamples = map[string]map[string]string{
	"torrent": {
		"g":               "torrent -g ubuntu.torrent",
		"ui":              "torrent -g -ui ./my-ui ubuntu.torrent",
		"torfs":           "torrent -torfs ~/mnt/ubuntu ubuntu.torrent",
		"lazy":            "torrent -lazy -torfs ~/mnt/ubuntu ubuntu.torrent   (or: torrent mount -lazy ubuntu.torrent ~/mnt/ubuntu)",
		"picker":          "torrent -picker builtin ubuntu.torrent",
		"picker-reattach": `torrent -picker-reattach '{"kind":"picker","pid":4242,...}' ubuntu.torrent`,
		"ui-reattach":     `torrent -ui-reattach '{"kind":"ui","pid":4242,...}' ubuntu.torrent`,
		"torfs-reattach":  `torrent -torfs ~/mnt/ubuntu -torfs-reattach '{"kind":"torfs","pid":4242,...}' ubuntu.torrent`,
		"max-peers":       "torrent -max-peers 200 ubuntu.torrent",
		"dir":             "torrent -dir ~/iso ubuntu.torrent",
		"port":            "torrent -port 51413 ubuntu.torrent",
		"peer":            "torrent -peer 192.168.1.7:6881 -peer [::1]:6882 ubuntu.torrent",
		"seed":            "torrent -seed=false ubuntu.torrent",
		"check":           "torrent -check -seed=false ubuntu.torrent",
		"encrypt":         "torrent -encrypt ubuntu.torrent",
		"up-rate":         "torrent -up-rate 1MB ubuntu.torrent",
		"down-rate":       "torrent -down-rate 5MB ubuntu.torrent",
		"want-rate":       "torrent -want-rate 200KB ubuntu.torrent",
		"log":             "torrent -g -log torrent.log ubuntu.torrent",
		"v":               "torrent -v ubuntu.torrent",
		"cpuprofile":      "torrent -cpuprofile cpu.pprof ubuntu.torrent",
		"memprofile":      "torrent -memprofile mem.pprof ubuntu.torrent",
		"json":            "torrent -json -seed=false ubuntu.torrent | jq .type",
		"lsd":             "torrent -lsd=false ubuntu.torrent",
		"pex":             "torrent -pex=false ubuntu.torrent",
		"only":            "torrent -only '**/*.flac' -only cover.jpg album.torrent",
		"skip":            "torrent -skip '*.nfo' -skip extras linux.torrent",
		"dht":             "torrent -dht=false ubuntu.torrent",
		"dht-bootstrap":   "torrent -dht-bootstrap 192.168.1.7:6881,dht.example:6881 ubuntu.torrent",
		"metadata-only":   "torrent -metadata-only -dir ~/torrents 'magnet:?xt=urn:btih:...&tr=udp://tracker.example:6969'",
	},
	"torrent create": {
		"a":            "torrent create -a http://a.example/announce,http://b.example/announce -a udp://backup.example:6969 ~/photos",
		"source":       "torrent create -private -source TRACKER -a https://tracker.example/announce ~/photos",
		"piece-length": "torrent create -piece-length 1MiB big.iso",
		"o":            "torrent create -o photos.torrent ~/photos",
		"comment":      `torrent create -comment "holiday 2026" ~/photos`,
		"private":      "torrent create -private -a https://tracker.example/announce ~/photos",
		"w":            "torrent create -w https://mirror.example/pub/ -w https://archive.example/photos ~/photos",
	},
	"torrent info": {"json": "torrent info -json ubuntu.torrent | jq .files"},
	"torrent mount": {
		"v":              "torrent mount -v ~/iso ~/mnt",
		"torfs-reattach": `torrent mount -torfs-reattach '{"kind":"torfs","pid":4242,...}' ~/iso ~/mnt`,
	},
	"torrent demo":   {"seeders": "torrent demo -seeders 5", "seed-rate": "torrent demo -seed-rate 10MB", "keep": "torrent demo -keep", "g": "torrent demo -g=false"},
	"torrent status": {"json": "torrent status -json ~/iso | jq .state"},
	"torrent stop":   {"timeout": "torrent stop -timeout 5m ~/iso"},
	"torrent verify": {"dir": "torrent verify -dir ~/iso ubuntu.torrent"},
}

// valueNames name the argument of flags whose type says only "value".
var valueNames = map[string]string{"up-rate": "RATE", "down-rate": "RATE", "want-rate": "RATE", "seed-rate": "RATE", "peer": "HOST:PORT", "a": "URL", "w": "URL",
	"dht-bootstrap": "HOST:PORT,..."}

// printFlags is flag.PrintDefaults with each flag's example.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	examples := flagExamples[fs.Name()]
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if n, ok := valueNames[f.Name]; ok && name == "value" {
			name = n
		}
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		usage = strings.ReplaceAll(usage, "\n", "\n    \t")
		line += "\n    \t" + usage
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "[]" {
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		if ex := examples[f.Name]; ex != "" {
			line += "\n    \te.g. " + ex
		}
		fmt.Fprintln(w, line)
	})
}
