package sdk

import (
	"syscall"

	"golang.org/x/sys/unix"
)

func setParentDeathSignalTo(s syscall.Signal) { unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(s), 0, 0, 0) }
