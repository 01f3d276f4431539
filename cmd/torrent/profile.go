package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts a CPU profile into cpu (if set); the returned stop
// ends it and writes a heap profile into mem (if set). Both are for
// docs/performance.md: `go tool pprof bin/torrent FILE`.
func startProfiles(cpu, mem string) (stop func(), err error) {
	var cf *os.File
	if cpu != "" {
		if cf, err = os.Create(cpu); err != nil {
			return nil, badInput("-cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(cf); err != nil {
			cf.Close()
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
	}
	return func() {
		if cf != nil {
			pprof.StopCPUProfile()
			cf.Close()
		}
		if mem == "" {
			return
		}
		f, err := os.Create(mem)
		if err != nil {
			fmt.Fprintf(stderr, "torrent: -memprofile: %v\n", err)
			return
		}
		defer f.Close()
		runtime.GC() // the heap as it is now, not as of the last GC
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintf(stderr, "torrent: -memprofile: %v\n", err)
		}
	}, nil
}
