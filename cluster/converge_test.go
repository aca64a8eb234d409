package cluster

import (
	"testing"
	"time"
)

// TestLocalPresetConverges: with LocalTiming, nodes started one after another
// in one process, each joining the first, all see each other quickly. With
// memberlist's own local defaults, alive messages fall out of the retransmit
// queue beyond about 30 nodes and only push/pull (every 15 s) repairs it.
func TestLocalPresetConverges(t *testing.T) {
	size := 40
	if raceEnabled || testing.Short() {
		size = 10 // two cores running forty race-instrumented nodes mostly measure the race detector
	}
	secret := NewSecret()
	start := time.Now()
	nodes := startCluster(t, size, secret)
	for _, n := range nodes {
		waitMembers(t, n, hasSize(size))
	}
	t.Logf("%d nodes converged %v after the first started", size, time.Since(start).Round(time.Millisecond))
}
