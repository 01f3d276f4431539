//go:build !linux

package sdk

func setParentDeathSignal() {}
