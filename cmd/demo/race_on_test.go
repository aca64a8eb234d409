//go:build race

package main

// raceEnabled: the tests build the demo with the race detector too, so that
// the node processes they run are checked as well.
const raceEnabled = true
