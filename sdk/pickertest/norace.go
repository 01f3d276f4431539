//go:build !race

package pickertest

const raceSlowdown = 1
