package dht

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// The routing table file (StateFile) keeps our node ID and the table's
// nodes, so the next start bootstraps from them without the routers:
//
//	"TDHT" version(1) id[20] count(uint16 BE)
//	count × ( id[20] family(4|6) ip[4|16] port(uint16 BE) )
//
// The library's own file format (WriteNodesToFile) keeps no node ID.
const (
	fileMagic    = "TDHT"
	fileVersion  = 1
	maxFileNodes = 2000 // the table holds at most 160 buckets × 8
)

// savedNode is one routing-table entry of the file.
type savedNode struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// nodesFile is the decoded file.
type nodesFile struct {
	ID    [20]byte
	Nodes []savedNode
}

func encodeNodesFile(f nodesFile) []byte {
	nodes := f.Nodes
	if len(nodes) > maxFileNodes {
		nodes = nodes[:maxFileNodes]
	}
	b := append([]byte(fileMagic), fileVersion)
	b = append(b, f.ID[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(nodes)))
	for _, n := range nodes {
		b = append(b, n.ID[:]...)
		ip := n.Addr.Addr().Unmap()
		if ip.Is4() {
			b = append(b, 4)
		} else {
			b = append(b, 6)
		}
		b = append(b, ip.AsSlice()...)
		b = binary.BigEndian.AppendUint16(b, n.Addr.Port())
	}
	return b
}

// decodeNodesFile parses a routing table file; anything malformed or
// trailing is an error for the whole file.
func decodeNodesFile(b []byte) (nodesFile, error) {
	var f nodesFile
	head := len(fileMagic) + 1 + 20 + 2
	if len(b) < head || string(b[:4]) != fileMagic {
		return f, errors.New("not a DHT routing table file")
	}
	if b[4] != fileVersion {
		return f, fmt.Errorf("routing table file version %d, want %d", b[4], fileVersion)
	}
	copy(f.ID[:], b[5:25])
	count := int(binary.BigEndian.Uint16(b[25:27]))
	if count > maxFileNodes {
		return f, fmt.Errorf("routing table file lists %d nodes, at most %d", count, maxFileNodes)
	}
	b = b[head:]
	for i := range count {
		if len(b) < 21 {
			return f, fmt.Errorf("node %d: truncated", i)
		}
		var n savedNode
		copy(n.ID[:], b[:20])
		alen := map[byte]int{4: 4, 6: 16}[b[20]]
		if alen == 0 {
			return f, fmt.Errorf("node %d: address family %d", i, b[20])
		}
		b = b[21:]
		if len(b) < alen+2 {
			return f, fmt.Errorf("node %d: truncated", i)
		}
		ip, _ := netip.AddrFromSlice(b[:alen])
		port := binary.BigEndian.Uint16(b[alen : alen+2])
		if port == 0 || ip.IsUnspecified() || ip.Is4In6() { // IPv4 is written as family 4
			return f, fmt.Errorf("node %d: address %v:%d", i, ip, port)
		}
		n.Addr = netip.AddrPortFrom(ip, port)
		f.Nodes = append(f.Nodes, n)
		b = b[alen+2:]
	}
	if len(b) != 0 {
		return f, fmt.Errorf("%d bytes after the last node", len(b))
	}
	return f, nil
}

// readNodesFile loads path; a missing file is no nodes and no error.
func readNodesFile(path string) (nodesFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nodesFile{}, nil
	}
	if err != nil {
		return nodesFile{}, err
	}
	if len(b) > 64+maxFileNodes*40 {
		return nodesFile{}, fmt.Errorf("%s: %d bytes, too large for a routing table", path, len(b))
	}
	f, err := decodeNodesFile(b)
	if err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// writeNodesFile replaces path atomically, so a crash mid-write leaves the
// previous table.
func writeNodesFile(path string, f nodesFile) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(encodeNodesFile(f)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
