// Command writepath measures what writing a download costs the kernel: N
// 1 MiB pieces in random order into a new file, once per method named on
// the command line, each after the previous file was removed and a pause
// (long enough for a VM's host to take the freed memory back). It prints
// the writes' and the final fdatasync's wall and system time
// (docs/performance.md, "Case 1: the write path").
//
//	go run ./bench/writepath -dir /tmp/wp buffered direct falloc \
//	    direct-falloc sorted16 sfr sfr-dontneed
//
// buffered: pwrite; direct: O_DIRECT; falloc: fallocate the whole file
// first; sorted16: buffered, 16 pieces at a time in offset order; sfr:
// sync_file_range(WRITE) after each piece; sfr-dontneed: that, and each
// piece 8 pieces back waited for and dropped from the page cache.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const P = 1 << 20

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Stime.Nano())
}
func ucpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano())
}

func main() {
	n := flag.Int("n", 1024, "pieces")
	pause := flag.Duration("pause", 5*time.Second, "pause after removing the old file")
	dir := flag.String("dir", os.TempDir(), "directory for the test file (writepath.tmp)")
	flag.Parse()
	buf := make([]byte, P)
	rand.Read(buf)
	if a := uintptr(unsafe.Pointer(&buf[0])) % 4096; a != 0 {
		fmt.Fprintln(os.Stderr, "buffer not page-aligned: direct writes will fail")
	}
	order := make([]int, *n)
	for i := range order {
		order[i] = i
	}
	for i := len(order) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		order[i], order[j.Int64()] = order[j.Int64()], order[i]
	}
	for _, m := range flag.Args() {
		switch m {
		case "buffered", "direct", "falloc", "direct-falloc", "sorted16", "sfr", "sfr-dontneed":
		default:
			log.Fatalf("unknown method %q", m)
		}
		p := filepath.Join(*dir, "writepath.tmp")
		os.Remove(p)
		time.Sleep(*pause)
		flags := os.O_RDWR | os.O_CREATE
		if m == "direct" || m == "direct-falloc" {
			flags |= syscall.O_DIRECT
		}
		f, err := os.OpenFile(p, flags, 0o644)
		if err != nil {
			log.Fatalf("%s: %v", m, err)
		}
		s0, u0, t0 := cpu(), ucpu(), time.Now()
		if m == "falloc" || m == "direct-falloc" {
			if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(*n)*P); err != nil {
				log.Fatalf("%s: fallocate: %v", m, err)
			}
		}
		write := func(i int) {
			if _, err := f.WriteAt(buf, int64(i)*P); err != nil {
				log.Fatalf("%s: piece %d: %v", m, i, err)
			}
		}
		switch m {
		case "sorted16":
			for k := 0; k < len(order); k += 16 {
				b := append([]int(nil), order[k:min(k+16, len(order))]...)
				sort.Ints(b)
				for _, i := range b {
					write(i)
				}
			}
		case "sfr", "sfr-dontneed":
			var back []int
			for _, i := range order {
				write(i)
				unix.SyncFileRange(int(f.Fd()), int64(i)*P, P, unix.SYNC_FILE_RANGE_WRITE)
				back = append(back, i)
				if m == "sfr-dontneed" && len(back) > 8 {
					j := back[0]
					back = back[1:]
					unix.SyncFileRange(int(f.Fd()), int64(j)*P, P, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
					unix.Fadvise(int(f.Fd()), int64(j)*P, P, unix.FADV_DONTNEED)
				}
			}
		default:
			for _, i := range order {
				write(i)
			}
		}
		s1, t1 := cpu(), time.Now()
		unix.Fdatasync(int(f.Fd()))
		s2, u2, t2 := cpu(), ucpu(), time.Now()
		f.Close()
		fmt.Printf("%-14s writes: wall %5.2f s sys %5.2f s | fdatasync: wall %5.2f s sys %5.2f s | total sys %5.2f user %5.2f\n", m,
			t1.Sub(t0).Seconds(), (s1 - s0).Seconds(), t2.Sub(t1).Seconds(), (s2 - s1).Seconds(), (s2 - s0).Seconds(), (u2 - u0).Seconds())
	}
	os.Remove(filepath.Join(*dir, "writepath.tmp"))
}
