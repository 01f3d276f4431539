package webseed

import "time"

// Backoff spaces out the attempts at a failing seed: each failure in a
// row doubles the wait, from BackoffMin up to BackoffMax; a success resets
// it. The zero value is a seed in good standing.
type Backoff struct {
	fails int
	until time.Time
}

// Waits between attempts at a failing seed.
const (
	BackoffMin = 2 * time.Second
	BackoffMax = 5 * time.Minute
)

// Fail records a failure at now and returns how long to wait.
func (b *Backoff) Fail(now time.Time) time.Duration {
	b.fails++
	d := BackoffMin
	for i := 1; i < b.fails && d < BackoffMax; i++ {
		d *= 2
	}
	d = min(d, BackoffMax)
	b.until = now.Add(d)
	return d
}

// OK records a success.
func (b *Backoff) OK() { b.fails = 0 }

// Ready says whether the seed may be tried at now.
func (b *Backoff) Ready(now time.Time) bool { return !now.Before(b.until) }

// Fails is the number of failures in a row.
func (b *Backoff) Fails() int { return b.fails }
