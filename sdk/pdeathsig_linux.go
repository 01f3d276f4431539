package sdk

import "golang.org/x/sys/unix"

func setParentDeathSignal() { unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0) }
