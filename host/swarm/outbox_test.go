package swarm

import (
	"slices"
	"testing"
)

// The upload queue keeps order across batches and cancels: a cancelled
// upload is never sent, one already taken is not affected, a Cancel of
// something never queued changes nothing, and of two copies of a request
// a Cancel takes back the last.
func TestOutboxCancel(t *testing.T) {
	o := newOutbox()
	var want []upReq
	for i := range 100 {
		r := upReq{uint32(i), 0, blockSize}
		o.upload(r)
		want = append(want, r)
	}
	_, got, _, more := o.take(nil, nil)
	if !more || !slices.Equal(got, want[:uploadBatch]) {
		t.Fatalf("first batch %v (more %v), want %v", got, more, want[:uploadBatch])
	}
	o.cancel(want[3])                   // already taken: nothing
	o.cancel(upReq{1000, 0, blockSize}) // never queued: nothing
	o.cancel(want[uploadBatch])         // the next to go
	o.cancel(want[50])                  // in the middle
	o.cancel(want[99])                  // the last
	o.upload(want[60])                  // a second copy...
	o.cancel(want[60])                  // ...of which this takes back the last
	if n := o.queued(); n != 100-uploadBatch-3 {
		t.Fatalf("queued %d, want %d", n, 100-uploadBatch-3)
	}
	var rest []upReq
	for i, r := range want[uploadBatch:] {
		if i := i + uploadBatch; i != uploadBatch && i != 50 && i != 99 {
			rest = append(rest, r)
		}
	}
	_, got = takeAll(o)
	if !slices.Equal(got, rest) {
		t.Fatalf("taken %v\nwant %v", got, rest)
	}
	if n := o.queued(); n != 0 {
		t.Fatalf("queued %d after all was taken", n)
	}
	// The queue goes on after it has been emptied and shifted down.
	o.upload(want[7])
	o.cancel(want[7])
	o.upload(want[8])
	if _, got = takeAll(o); !slices.Equal(got, want[8:9]) {
		t.Fatalf("after emptying: taken %v, want %v", got, want[8:9])
	}
}

// A Cancel of a block not queued, with a full queue: what a peer sending
// nothing but Cancels costs the run loop.
func BenchmarkOutboxCancel(b *testing.B) {
	o := newOutbox()
	for i := range maxPeerRequests {
		o.upload(upReq{uint32(i), 0, blockSize})
	}
	for b.Loop() {
		o.cancel(upReq{1 << 20, 0, blockSize})
	}
}
