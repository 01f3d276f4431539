package sdk

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setParentDeathSignal asks the kernel to send s when the parent dies.
func setParentDeathSignal(s syscall.Signal) { unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(s), 0, 0, 0) }
