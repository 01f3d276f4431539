package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestUnlimitedNeverWaits(t *testing.T) {
	t.Parallel()
	l := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a wait would fail with ctx.Err
	for range 1000 {
		if err := l.Wait(ctx, 1<<20); err != nil {
			t.Fatalf("unlimited Wait = %v", err)
		}
	}
}

func TestLimitedDelaysAndCancels(t *testing.T) {
	t.Parallel()
	l := New(64 << 10) // burst 64 KiB
	ctx := context.Background()
	if err := l.Wait(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// The bucket starts empty: 64 KiB more is one second of debt, so a
	// cancelled context must come back with its error rather than nil.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := l.Wait(cctx, 64<<10); err == nil {
		t.Fatal("Wait of a full second's bytes returned at once")
	}
}
