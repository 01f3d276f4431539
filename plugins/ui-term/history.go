package main

// history is a rate over the whole session in at most histCap samples:
// one a second at first; when full, neighbours are averaged in pairs and
// each sample covers twice the time. Memory stays bounded however long the
// client runs, and the graph always spans the session.
type history struct {
	samples []int64
	per     int   // seconds each sample covers
	acc     int64 // sum of the seconds not yet folded into a sample
	n       int   // how many seconds acc holds
}

const histCap = 1024

func (h *history) add(v int64) {
	if h.per == 0 {
		h.per = 1
	}
	h.acc += v
	h.n++
	if h.n < h.per {
		return
	}
	h.samples = append(h.samples, h.acc/int64(h.n))
	h.acc, h.n = 0, 0
	if len(h.samples) >= histCap {
		for i := 0; i < len(h.samples)/2; i++ {
			h.samples[i] = (h.samples[2*i] + h.samples[2*i+1]) / 2
		}
		h.samples = h.samples[:len(h.samples)/2]
		h.per *= 2
	}
}

// last is the newest n samples at one a second, as long as the history
// still has that resolution; then the newest n samples whatever they cover.
func (h *history) last(n int) []int64 {
	return h.samples[max(0, len(h.samples)-n):]
}

// seconds is the time the history covers.
func (h *history) seconds() int { return len(h.samples)*h.per + h.n }

// resample fits the whole history into w columns, averaging the samples
// each column covers; with fewer samples than columns each sample spans
// several, so the graph always reads from the session's start to now.
func (h *history) resample(w int) []int64 {
	s := h.samples
	if len(s) == 0 || w <= 0 {
		return nil
	}
	out := make([]int64, w)
	for c := range w {
		lo, hi := c*len(s)/w, max((c+1)*len(s)/w, c*len(s)/w+1)
		var sum int64
		for _, v := range s[lo:hi] {
			sum += v
		}
		out[c] = sum / int64(max(1, hi-lo))
	}
	return out
}
