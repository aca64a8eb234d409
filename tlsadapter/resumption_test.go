package tlsadapter_test

import (
	"crypto/tls"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/sessionmesh/sessionmesh/internal/testcluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var versions = []struct {
	name string
	v    uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// TestCrossNodeResumption: a session made on node i resumes on node j, for
// every ordered pair, with Go's client, in both TLS versions.
func TestCrossNodeResumption(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprint(size, " nodes"), func(t *testing.T) {
			c := testcluster.Start(t, size, testcluster.Options{})
			for _, ver := range versions {
				t.Run(ver.name, func(t *testing.T) {
					for i, from := range c.Nodes {
						for j, to := range c.Nodes {
							if i == j {
								continue
							}
							cl := c.Client(ver.v, "a.example")
							if resumed, err := cl.Connect(from.Addr); err != nil || resumed {
								t.Fatalf("first connection to %s: resumed=%v err=%v", from.Name, resumed, err)
							}
							resumed, err := cl.Connect(to.Addr)
							if err != nil {
								t.Fatalf("%s -> %s: %v", from.Name, to.Name, err)
							}
							if !resumed {
								t.Errorf("%s -> %s: not resumed", from.Name, to.Name)
							}
						}
					}
				})
			}
		})
	}
}
