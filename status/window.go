package status

import (
	"time"

	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// window is what happened between two samples of a member's counters.
type window struct {
	from, to  time.Time
	resumed   uint64
	full      uint64
	misses    map[tlsadapter.MissReason]uint64
	latency   store.Histogram // lookups at other members in the window
	intervals []span          // between consecutive samples, oldest first
}

// span is the handshakes between two consecutive samples.
type span struct {
	from, to      time.Time
	resumed, full uint64
}

// between returns the window from the first of samples to now, the member's
// counters at this moment, with an interval between each pair of samples
// and one from the last sample to now.
func between(samples []sample, now sample) window {
	if len(samples) == 0 {
		samples = []sample{now}
	}
	base := samples[0]
	w := window{from: base.at, to: now.at, misses: make(map[tlsadapter.MissReason]uint64)}
	w.resumed, w.full = handshakes(now.adapter)
	r0, f0 := handshakes(base.adapter)
	w.resumed, w.full = w.resumed-r0, w.full-f0
	for _, r := range tlsadapter.Reasons() {
		w.misses[r] = now.adapter.Missed(r) - base.adapter.Missed(r)
	}
	w.latency = subtract(now.latency, base.latency)
	points := append(samples[:len(samples):len(samples)], now)
	for i := 1; i < len(points); i++ {
		r1, f1 := handshakes(points[i].adapter)
		r0, f0 := handshakes(points[i-1].adapter)
		w.intervals = append(w.intervals, span{from: points[i-1].at, to: points[i].at, resumed: r1 - r0, full: f1 - f0})
	}
	return w
}

// handshakes sums a snapshot's handshakes over every TLS version.
func handshakes(s tlsadapter.Stats) (resumed, full uint64) {
	for _, v := range tlsadapter.Versions() {
		resumed += s.Handshakes(true, v)
		full += s.Handshakes(false, v)
	}
	return resumed, full
}

// subtract returns the observations in a that are not in b, an earlier
// snapshot of the same histogram.
func subtract(a, b store.Histogram) store.Histogram {
	d := store.Histogram{Bounds: a.Bounds, Counts: make([]uint64, len(a.Counts)), Sum: a.Sum - b.Sum}
	for i := range a.Counts {
		d.Counts[i] = a.Counts[i]
		if i < len(b.Counts) {
			d.Counts[i] -= b.Counts[i]
		}
	}
	return d
}

// quantile returns the upper bound of the bucket that holds the q-th
// quantile of h's observations (so the quantile is at most that), or the
// largest bound if it lies above them all, as Prometheus's
// histogram_quantile does; ok is false when h is empty.
func quantile(h store.Histogram, q float64) (bound time.Duration, ok bool) {
	total := h.Count()
	if total == 0 || len(h.Bounds) == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var seen uint64
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			seen += h.Counts[i]
		}
		if float64(seen) >= rank {
			return b, true
		}
	}
	return h.Bounds[len(h.Bounds)-1], true
}
