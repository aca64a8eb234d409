//go:build race

package cluster

// raceEnabled: the race detector slows gossip about tenfold, so tests that
// run many nodes use fewer.
const raceEnabled = true
