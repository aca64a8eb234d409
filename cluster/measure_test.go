package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The measurements in docs/operations.md ("Measured"). They take minutes, so
// they run only when asked:
//
//	SESSIONMESH_MEASURE=1 go test -run TestMeasure -v -timeout 30m ./cluster
//
// Every node runs in this process on 127.0.0.1; LANTiming is measured on
// loopback too, so its figures show the timing's own cost, not a network's.

// measuring skips the test unless SESSIONMESH_MEASURE is set.
func measuring(t *testing.T) {
	t.Helper()
	if os.Getenv("SESSIONMESH_MEASURE") == "" {
		t.Skip("set SESSIONMESH_MEASURE=1 to measure")
	}
}

// measureTrials returns SESSIONMESH_TRIALS, or def.
func measureTrials(def int) int {
	if n, err := strconv.Atoi(os.Getenv("SESSIONMESH_TRIALS")); err == nil && n > 0 {
		return n
	}
	return def
}

var presets = []struct {
	name   string
	timing Timing
}{
	{"LocalTiming", LocalTiming()},
	{"LANTiming", LANTiming()},
}

// startTimed starts size nodes on loopback with timing, each joining the
// first, and returns them with the time the last Join returned.
func startTimed(t *testing.T, size int, timing Timing, secret []byte) ([]*Node, time.Time) {
	t.Helper()
	nodes := make([]*Node, size)
	for i := range nodes {
		cfg := LocalConfig()
		cfg.Name, cfg.Secret, cfg.Timing = fmt.Sprintf("node-%03d", i), secret, timing
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes[i] = n
		if i > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := n.Join(ctx, nodes[0].Addr())
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return nodes, time.Now()
}

// waitAll polls until ok holds for every node, and returns when it did.
func waitAll(t *testing.T, nodes []*Node, limit time.Duration, ok func(*Node) bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		all := true
		for _, n := range nodes {
			if !ok(n) {
				all = false
				break
			}
		}
		if all {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every node got there within %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sees(k int) func(*Node) bool { return func(n *Node) bool { return len(n.Members()) == k } }

// TestMeasureConvergence: nodes start one after another, each joining the
// first. Reported: how long until every node lists every node, counted from
// the first node's start and from the moment the last Join returned.
func TestMeasureConvergence(t *testing.T) {
	measuring(t)
	for _, p := range presets {
		for _, size := range []int{10, 50, 100} {
			t.Run(fmt.Sprintf("%s/%d", p.name, size), func(t *testing.T) {
				var fromStart, fromJoin []time.Duration
				for range measureTrials(3) {
					start := time.Now()
					nodes, joined := startTimed(t, size, p.timing, NewSecret())
					done := waitAll(t, nodes, 5*time.Minute, sees(size))
					fromStart = append(fromStart, done.Sub(start))
					fromJoin = append(fromJoin, done.Sub(joined))
					for _, n := range nodes {
						n.Close()
					}
				}
				t.Logf("%s, %d nodes, %d trials: all see all %s after the first started; %s after the last Join returned",
					p.name, size, len(fromJoin), spread(fromStart), spread(fromJoin))
			})
		}
	}
}

// TestMeasureCrashDetection: in a settled cluster of 5, one node stops
// without a word (Close without Leave, as a crash looks to the others).
// Reported: how long until the first survivor, and then every survivor, no
// longer lists it. Each trial is a fresh cluster.
func TestMeasureCrashDetection(t *testing.T) {
	measuring(t)
	const size = 5
	for _, p := range presets {
		t.Run(p.name, func(t *testing.T) {
			var first, all []time.Duration
			for trial := range measureTrials(5) {
				nodes, _ := startTimed(t, size, p.timing, NewSecret())
				waitAll(t, nodes, time.Minute, sees(size))
				// Let probing reach its steady state.
				time.Sleep(2 * p.timing.ProbeInterval)
				victim := nodes[1+trial%(size-1)]
				rest := slices.DeleteFunc(slices.Clone(nodes), func(n *Node) bool { return n == victim })
				stopped := time.Now()
				victim.Close()
				var firstAt, allAt time.Time
				deadline := stopped.Add(2 * time.Minute)
				for allAt.IsZero() {
					gone := 0
					for _, n := range rest {
						if len(n.Members()) == size-1 {
							gone++
						}
					}
					now := time.Now()
					if gone > 0 && firstAt.IsZero() {
						firstAt = now
					}
					if gone == len(rest) {
						allAt = now
					}
					if now.After(deadline) {
						t.Fatalf("%d of %d survivors noticed the crash within 2m", gone, len(rest))
					}
					time.Sleep(5 * time.Millisecond)
				}
				first = append(first, firstAt.Sub(stopped))
				all = append(all, allAt.Sub(stopped))
				t.Logf("%s trial %d: first survivor %v, all survivors %v", p.name, trial,
					firstAt.Sub(stopped).Round(10*time.Millisecond), allAt.Sub(stopped).Round(10*time.Millisecond))
				for _, n := range rest {
					n.Close()
				}
			}
			t.Logf("%s, %d nodes, %d crashes: every survivor knew after %s", p.name, size, len(all), spread(all))
		})
	}
}

// spread formats durations as "median (min–max)".
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration {
		if d < time.Second {
			return d.Round(10 * time.Millisecond)
		}
		return d.Round(100 * time.Millisecond)
	}
	return fmt.Sprintf("median %v (min %v, max %v)", r(s[len(s)/2]), r(s[0]), r(s[len(s)-1]))
}
