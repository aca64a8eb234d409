package status

import (
	"crypto/tls"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// at returns a sample at t0 + s seconds with the given handshake totals
// (TLS 1.3) and not_found misses.
func at(s int, resumed, full, notFound uint64) sample {
	a := tlsadapter.Stats{
		Resumed: map[uint16]uint64{tls.VersionTLS13: resumed},
		Full:    map[uint16]uint64{tls.VersionTLS13: full},
		Misses:  map[tlsadapter.MissReason]uint64{tlsadapter.NotFound: notFound},
	}
	return sample{at: t0.Add(time.Duration(s) * time.Second), adapter: a}
}

func times(ss []sample) []int {
	var out []int
	for _, s := range ss {
		out = append(out, int(s.at.Sub(t0)/time.Second))
	}
	return out
}

// TestHistory: the ring keeps the latest historyLen samples, and since
// returns those at or after a time, oldest first, or the latest alone.
func TestHistory(t *testing.T) {
	var h history
	if got := h.since(t0); len(got) != 0 {
		t.Errorf("empty history: %v", times(got))
	}
	for i := range 20 {
		h.add(at(5*i, 0, 0, 0))
	}
	// 20 samples at 0, 5, ..., 95 s; the ring holds the last 13: 35 to 95.
	tests := []struct {
		since int
		want  []int
	}{
		{0, []int{35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95}},
		{36, []int{40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95}},
		{95, []int{95}},
		{100, []int{95}}, // nothing that recent: the latest
	}
	for _, tt := range tests {
		got := times(h.since(t0.Add(time.Duration(tt.since) * time.Second)))
		if !slices.Equal(got, tt.want) {
			t.Errorf("since %ds: %v, want %v", tt.since, got, tt.want)
		}
	}
}

// TestBetween: the window's counts are now minus the first sample, with an
// interval between each pair of samples and from the last one to now.
func TestBetween(t *testing.T) {
	samples := []sample{at(0, 10, 5, 1), at(5, 14, 6, 1), at(10, 20, 6, 3)}
	now := at(12, 21, 8, 3)
	now.latency = store.Histogram{Bounds: []time.Duration{time.Millisecond}, Counts: []uint64{7, 1}, Sum: 9 * time.Millisecond}
	samples[0].latency = store.Histogram{Bounds: []time.Duration{time.Millisecond}, Counts: []uint64{2, 1}, Sum: 4 * time.Millisecond}

	w := between(samples, now)
	if w.resumed != 11 || w.full != 3 {
		t.Errorf("resumed %d, full %d; want 11, 3", w.resumed, w.full)
	}
	if w.misses[tlsadapter.NotFound] != 2 || w.misses[tlsadapter.Expired] != 0 {
		t.Errorf("misses %v, want 2 not_found", w.misses)
	}
	if got := w.to.Sub(w.from); got != 12*time.Second {
		t.Errorf("window %v, want 12s", got)
	}
	if got := w.latency; !slices.Equal(got.Counts, []uint64{5, 0}) || got.Sum != 5*time.Millisecond {
		t.Errorf("latency %+v, want counts [5 0], sum 5ms", got)
	}
	want := []span{
		{t0, t0.Add(5 * time.Second), 4, 1},
		{t0.Add(5 * time.Second), t0.Add(10 * time.Second), 6, 0},
		{t0.Add(10 * time.Second), t0.Add(12 * time.Second), 1, 2},
	}
	if !slices.Equal(w.intervals, want) {
		t.Errorf("intervals %v, want %v", w.intervals, want)
	}

	// Before the first sample: a window of nothing.
	if w := between(nil, now); w.resumed != 0 || w.full != 0 || len(w.intervals) != 1 {
		t.Errorf("no samples: %+v", w)
	}
}

// TestQuantile: the quantile is the bound of the bucket it falls in, the
// largest bound above them all.
func TestQuantile(t *testing.T) {
	ms := time.Millisecond
	h := store.Histogram{Bounds: []time.Duration{ms, 10 * ms, 100 * ms}, Counts: []uint64{50, 40, 9, 1}}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, ms}, {0.51, 10 * ms}, {0.9, 10 * ms}, {0.99, 100 * ms}, {1, 100 * ms}} {
		if got, ok := quantile(h, tt.q); !ok || got != tt.want {
			t.Errorf("quantile %v = %v, %v; want %v", tt.q, got, ok, tt.want)
		}
	}
	if _, ok := quantile(store.Histogram{Bounds: h.Bounds, Counts: make([]uint64, 4)}, 0.5); ok {
		t.Error("quantile of nothing: ok")
	}
}

// TestSampler: a sample at once, then one every sampleInterval, and none
// after stop, which waits for the goroutine.
func TestSampler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h history
		var taken atomic.Int64
		take := func() sample {
			taken.Add(1)
			return sample{at: time.Now()}
		}
		start := time.Now()
		s := startSampler(&h, take)
		if n := taken.Load(); n != 1 {
			t.Fatalf("%d samples at once, want 1", n)
		}
		time.Sleep(2*sampleInterval + sampleInterval/2)
		synctest.Wait()
		if got := times(h.since(start)); len(got) != 3 {
			t.Errorf("after 2.5 intervals: %d samples, want 3", len(got))
		}
		s.stop()
		time.Sleep(3 * sampleInterval)
		if n := taken.Load(); n != 3 {
			t.Errorf("%d samples after stop, want 3", n)
		}
	})
}
