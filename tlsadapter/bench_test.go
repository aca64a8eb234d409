package tlsadapter_test

import (
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/testcluster"
	"github.com/sessionmesh/sessionmesh/store"
)

// BenchmarkHandshake measures whole connections — TCP connect, TLS handshake,
// one read, close — client and server in this process, on two nodes of one
// cluster. Compare the lines of one run:
//
//	go test -run '^$' -bench Handshake ./tlsadapter
//
// full is a handshake without a session; same-node resumes on the node that
// made the session (a local store lookup); cross-node resumes on the other
// node, which fetches the session over the peer channel. The gap between
// same-node and cross-node is the price of sharing sessions; the gap to full
// is what sharing saves. docs/performance.md records the figures.
func BenchmarkHandshake(b *testing.B) {
	// One copy of each session: with a replica, the other node would hold it too.
	c := testcluster.Start(b, 2, testcluster.Options{Store: func(sc *store.Config) { sc.Replicas = 1 }})
	home, other := c.Nodes[0], c.Nodes[1]
	for _, ver := range versions {
		cl := c.Client(ver.v, "a.example")
		if _, err := cl.Connect(home.Addr); err != nil {
			b.Fatal(err)
		}
		sess := cl.Session()
		for _, tc := range []struct {
			name   string
			addr   string
			offer  bool
			resume bool
		}{
			{"full", other.Addr, false, false},
			{"resumed-same-node", home.Addr, true, true},
			{"resumed-cross-node", other.Addr, true, true},
		} {
			b.Run(ver.name+"/"+tc.name, func(b *testing.B) {
				for b.Loop() {
					cl.Offer(nil)
					if tc.offer {
						cl.Offer(sess)
					}
					resumed, err := cl.Connect(tc.addr)
					if err != nil {
						b.Fatal(err)
					}
					if resumed != tc.resume {
						b.Fatalf("resumed = %v", resumed)
					}
				}
			})
		}
	}
}
