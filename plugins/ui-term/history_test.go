package main

import "testing"

// A day of samples stays within histCap, spans the whole day, and keeps
// its shape: a slow first half and a fast second half stay that way in any
// width.
func TestHistoryWholeSession(t *testing.T) {
	t.Parallel()
	var h history
	const day = 24 * 3600
	for s := range day {
		v := int64(100)
		if s >= day/2 {
			v = 900
		}
		h.add(v)
	}
	if len(h.samples) >= histCap {
		t.Fatalf("%d samples kept, cap %d", len(h.samples), histCap)
	}
	if h.seconds() != day {
		t.Fatalf("history covers %d s, want %d", h.seconds(), day)
	}
	for _, w := range []int{10, 78, 98} {
		r := h.resample(w)
		if len(r) != w {
			t.Fatalf("resample(%d): %d columns", w, len(r))
		}
		if r[0] != 100 || r[w-1] != 900 {
			t.Fatalf("resample(%d): first %d last %d, want 100 and 900", w, r[0], r[w-1])
		}
	}
	var short history
	for range 5 {
		short.add(7)
	}
	if r := short.resample(80); len(r) != 80 || r[0] != 7 || r[79] != 7 || short.seconds() != 5 {
		t.Fatalf("5 s of history in 80 columns: %d columns (first %d, last %d), %d s", len(r), r[0], r[79], short.seconds())
	}
}
