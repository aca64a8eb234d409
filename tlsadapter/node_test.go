package tlsadapter_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
)

// TestNodeJSCrossNode: Node.js's TLS client, which keeps sessions through its
// 'session' event, resumes across nodes for every ordered pair, in cache mode
// and in ticket mode.
func TestNodeJSCrossNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("SESSIONMESH_REQUIRE_NODE") != "" {
			t.Fatal("node not found, and SESSIONMESH_REQUIRE_NODE is set")
		}
		t.Skip("node not found")
	}
	for mode, opts := range map[string]testcluster.Options{
		"cache":   {},
		"tickets": {Tickets: &ticketkeys.Config{}},
	} {
		t.Run(mode, func(t *testing.T) { nodeJSPairs(t, node, opts) })
	}
}

func nodeJSPairs(t *testing.T, node string, opts testcluster.Options) {
	c := testcluster.Start(t, 3, opts)
	if opts.Tickets != nil {
		c.WaitTicketKeys()
	}
	for _, ver := range []string{"TLSv1.2", "TLSv1.3"} {
		t.Run(ver, func(t *testing.T) {
			for i, from := range c.Nodes {
				for j, to := range c.Nodes {
					if i == j {
						continue
					}
					out, err := exec.Command(node, "testdata/resume.js", ver, from.Addr, to.Addr).CombinedOutput()
					if err != nil {
						t.Fatalf("node: %v\n%s", err, out)
					}
					if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "New" || got[1] != "Reused" {
						t.Errorf("%s -> %s: %q, want New then Reused", from.Name, to.Name, out)
					}
				}
			}
		})
	}
}
