package store

import (
	"slices"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the peer latency buckets: a lookup
// on a LAN takes tens of microseconds, one from a member in trouble runs
// into the lookup deadline (50 ms by default).
var latencyBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

// histogram counts durations into latencyBounds' buckets without locks.
type histogram struct {
	counts [len(latencyBounds) + 1]atomic.Uint64 // the last: above every bound
	sum    atomic.Int64                          // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	i, _ := slices.BinarySearch(latencyBounds[:], d)
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Histogram is a snapshot of a latency distribution.
type Histogram struct {
	Bounds []time.Duration // upper bounds of the buckets, ascending
	Counts []uint64        // observations per bucket; one more than Bounds, the last above them all
	Sum    time.Duration   // of every observation
}

// Count returns the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

func (h *histogram) snapshot() Histogram {
	s := Histogram{Bounds: latencyBounds[:], Counts: make([]uint64, len(h.counts)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	return s
}
