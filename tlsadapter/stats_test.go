package tlsadapter

import (
	"crypto/tls"
	"testing"
)

// TestCountingIsFree: counting a handshake or a miss, which happens on every
// handshake, allocates nothing (and takes no lock: the counters are atomics).
func TestCountingIsFree(t *testing.T) {
	var c counters
	verify := c.counting(nil)
	resumed := tls.ConnectionState{Version: tls.VersionTLS13, DidResume: true}
	full := tls.ConnectionState{Version: tls.VersionTLS12}
	allocs := testing.AllocsPerRun(1000, func() {
		verify(resumed)
		verify(full)
		c.miss(Expired)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per counted handshake", allocs)
	}
	s := c.snapshot()
	if s.Handshakes(true, tls.VersionTLS13) == 0 || s.Handshakes(false, tls.VersionTLS12) == 0 || s.Missed(Expired) == 0 {
		t.Errorf("nothing counted: %+v", s)
	}
}
