// Package leakcheck fails a test binary that leaves goroutines running after
// its tests pass.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Grace is how long goroutines get to finish after the tests. memberlist's
// Shutdown does not wait for its probe goroutine, which ends within a probe
// interval, or several when memberlist thinks itself unhealthy (as it does on
// an overloaded machine); everything of ours is gone when Close returns.
const Grace = 10 * time.Second

// Main runs the tests and then fails if any goroutine outlives Grace,
// except those opts ignore (another library's, that it cannot stop).
// Use it as TestMain: func TestMain(m *testing.M) { leakcheck.Main(m) }
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(Grace)
		err := goleak.Find(opts...)
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			err = goleak.Find(opts...)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
