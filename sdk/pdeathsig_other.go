//go:build !linux

package sdk

import "syscall"

func setParentDeathSignal(syscall.Signal) {}
