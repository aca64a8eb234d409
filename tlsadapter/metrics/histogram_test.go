package metrics

import (
	"maps"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/store"
)

// TestHistogram: the store's per-bucket counts become Prometheus's cumulative
// counts by upper bound in seconds, and what lies above every bound counts
// only in the total (the +Inf bucket).
func TestHistogram(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		in        store.Histogram
		count     uint64
		sum       float64
		cumulated map[float64]uint64
	}{
		{
			name:      "empty",
			in:        store.Histogram{Bounds: []time.Duration{ms, 10 * ms}, Counts: []uint64{0, 0, 0}},
			cumulated: map[float64]uint64{0.001: 0, 0.01: 0},
		},
		{
			name:      "every bucket",
			in:        store.Histogram{Bounds: []time.Duration{ms, 10 * ms}, Counts: []uint64{3, 2, 1}, Sum: 1500 * ms},
			count:     6,
			sum:       1.5,
			cumulated: map[float64]uint64{0.001: 3, 0.01: 5},
		},
		{
			name:      "only above the bounds",
			in:        store.Histogram{Bounds: []time.Duration{ms}, Counts: []uint64{0, 4}, Sum: 8 * time.Second},
			count:     4,
			sum:       8,
			cumulated: map[float64]uint64{0.001: 0},
		},
		{
			name:      "no overflow bucket",
			in:        store.Histogram{Bounds: []time.Duration{ms, 2 * ms}, Counts: []uint64{1, 1}, Sum: 2 * ms},
			count:     2,
			sum:       0.002,
			cumulated: map[float64]uint64{0.001: 1, 0.002: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count, sum, buckets := histogram(tt.in)
			if count != tt.count || sum != tt.sum {
				t.Errorf("count %d, sum %v; want %d, %v", count, sum, tt.count, tt.sum)
			}
			if !maps.Equal(buckets, tt.cumulated) {
				t.Errorf("buckets %v, want %v", buckets, tt.cumulated)
			}
		})
	}
}
