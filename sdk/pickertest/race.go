//go:build race

package pickertest

// The race detector slows code several times over; the cost limit follows.
const raceSlowdown = 10
