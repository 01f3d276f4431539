// Package ratelimit caps a byte rate shared by many goroutines (all peers'
// uploads, or all downloads) with a token bucket.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Limiter is a token bucket in bytes. The zero rate means unlimited. It is
// safe for concurrent use.
type Limiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second; 0 = unlimited
	burst  float64
	tokens float64
	last   time.Time
}

// New returns a limiter of rate bytes per second; rate <= 0 is unlimited.
// The burst is a quarter second of traffic but at least 64 KiB, so one
// request pipeline's worth of blocks moves without stalls.
func New(rate int64) *Limiter {
	l := &Limiter{last: time.Now()}
	l.SetRate(rate)
	return l
}

// SetRate changes the rate; rate <= 0 removes the limit.
func (l *Limiter) SetRate(rate int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rate <= 0 {
		l.rate = 0
		return
	}
	l.rate = float64(rate)
	l.burst = max(l.rate/4, 64<<10)
	l.tokens = min(l.tokens, l.burst)
}

// Wait blocks until n bytes may pass, or ctx ends. Debt is allowed so a
// block larger than the burst still goes through at the right average rate.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	l.mu.Lock()
	if l.rate == 0 {
		l.mu.Unlock()
		return nil
	}
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	var wait time.Duration
	if l.tokens < 0 {
		wait = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if wait == 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
