//go:build !linux

package sdk

import "syscall"

func setParentDeathSignalTo(syscall.Signal) {}
