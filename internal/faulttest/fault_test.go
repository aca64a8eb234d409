package faulttest

import (
	"crypto/tls"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/faultnet"
	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// session is a client's session, made on one node, to be offered elsewhere.
type session struct {
	client *testcluster.Client
	state  *tls.ClientSessionState
	from   string
}

// makeSessions makes n sessions, round-robin over nodes and both TLS
// versions, and waits until every record has its replica.
func makeSessions(t *testing.T, c *testcluster.Cluster, nodes []*testcluster.Node, n int) []session {
	t.Helper()
	out := make([]session, n)
	for i := range out {
		v := []uint16{tls.VersionTLS12, tls.VersionTLS13}[i%2]
		nd := nodes[i%len(nodes)]
		cl := c.Client(v, "a.example")
		if _, err := cl.Connect(nd.Addr); err != nil {
			t.Fatalf("making session %d on %s: %v", i, nd.Name, err)
		}
		out[i] = session{cl, cl.Session(), nd.Name}
	}
	waitReplicated(t, c)
	return out
}

// waitReplicated waits until every running node has sent the copies it had
// queued when called (it may have queued more since, under load).
func waitReplicated(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, nd := range c.Running() {
		for nd.Store.Stats().CopiesPending > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d copies still pending", nd.Name, nd.Store.Stats().CopiesPending)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// resumeRate offers every session to a random one of nodes and returns the
// share that resumed; a failed handshake fails the test.
func resumeRate(t *testing.T, sessions []session, nodes []*testcluster.Node) float64 {
	t.Helper()
	resumed := 0
	for i, s := range sessions {
		nd := nodes[rand.IntN(len(nodes))]
		s.client.Offer(s.state)
		ok, err := s.client.Connect(nd.Addr)
		if err != nil {
			t.Fatalf("session %d (from %s) on %s: handshake failed: %v", i, s.from, nd.Name, err)
		}
		if ok {
			resumed++
		}
	}
	return float64(resumed) / float64(len(sessions))
}

// load runs handshakes against nodes until stopped — a full one on a random
// node, then a resumption on another — and counts what happened.
type load struct {
	handshakes, failures, resumed atomic.Int64
	stop                          chan struct{}
	wg                            sync.WaitGroup
	mu                            sync.Mutex
	errs                          []error
}

func startLoad(c *testcluster.Cluster, nodes func() []*testcluster.Node, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				ns := nodes()
				cl := c.Client([]uint16{tls.VersionTLS12, tls.VersionTLS13}[(w+i)%2], "a.example")
				for range 2 {
					ok, err := cl.Connect(ns[rand.IntN(len(ns))].Addr)
					l.handshakes.Add(1)
					if err != nil {
						l.failures.Add(1)
						l.mu.Lock()
						l.errs = append(l.errs, err)
						l.mu.Unlock()
					} else if ok {
						l.resumed.Add(1)
					}
				}
			}
		})
	}
	return l
}

func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: %d handshakes, %d failed, %d resumed", l.handshakes.Load(), l.failures.Load(), l.resumed.Load())
	if l.failures.Load() != 0 {
		t.Errorf("%d handshakes failed; first: %v", l.failures.Load(), l.errs[0])
	}
}

// TestCrashUnderLoad: one of 5 nodes dies without a word (gossip, store and
// TLS server stop at once) while handshakes run against the other four.
// None of those fails, and the sessions made before the crash — a fifth of
// them on the dead node — still resume on the survivors.
func TestCrashUnderLoad(t *testing.T) {
	c := testcluster.Start(t, 5, testcluster.Options{})
	sessions := makeSessions(t, c, c.Nodes, 200)
	victim := c.Nodes[2]
	survivors := []*testcluster.Node{c.Nodes[0], c.Nodes[1], c.Nodes[3], c.Nodes[4]}

	l := startLoad(c, func() []*testcluster.Node { return survivors }, 4)
	victim.Stop()
	c.WaitSettled(4) // failure detected, ring rebuilt, records re-replicated
	l.finish(t)

	rate := resumeRate(t, sessions, survivors)
	t.Logf("%.1f%% of sessions made before the crash resumed on the survivors", 100*rate)
	if rate < 0.99 {
		t.Errorf("%.1f%% resumed, want at least 99%%", 100*rate)
	}
}

// TestRollingRestart: every node of 5 is restarted, one at a time — it hands
// its records over and leaves, and a fresh node with the same name joins —
// waiting each time for the cluster to settle. The sessions made before
// still resume.
func TestRollingRestart(t *testing.T) {
	c := testcluster.Start(t, 5, testcluster.Options{})
	sessions := makeSessions(t, c, c.Nodes, 200)
	for i := range c.Nodes {
		c.Restart(i)
		c.WaitSettled(5)
	}
	rate := resumeRate(t, sessions, c.Nodes)
	t.Logf("%.1f%% of sessions made before the rolling restart resumed", 100*rate)
	if rate < 0.99 {
		t.Errorf("%.1f%% resumed, want at least 99%%", 100*rate)
	}
}

// TestPartitionHeals: 5 nodes split 2 + 3. Handshakes on every node never
// fail; each side carries on alone; once the network heals the cluster
// merges into one by itself, and sessions made on either side, before or
// during the split, resume on any node.
func TestPartitionHeals(t *testing.T) {
	net := faultnet.New()
	c := testcluster.Start(t, 5, testcluster.Options{Net: net})
	before := makeSessions(t, c, c.Nodes, 100)
	a, b := c.Nodes[:2], c.Nodes[2:]

	l := startLoad(c, func() []*testcluster.Node { return c.Nodes }, 4)
	net.Partition(names(a), names(b))
	waitMembers(t, a, 2)
	waitMembers(t, b, 3)
	during := append(makeSessions(t, c, a, 50), makeSessions(t, c, b, 50)...)

	net.Heal()
	waitMembers(t, c.Nodes, 5)
	c.WaitSettled(5)
	l.finish(t)

	for name, sessions := range map[string][]session{"before": before, "during": during} {
		rate := resumeRate(t, sessions, c.Nodes)
		t.Logf("sessions made %s the partition: %.1f%% resumed after it healed", name, 100*rate)
		if rate < 0.99 {
			t.Errorf("sessions made %s the partition: %.1f%% resumed, want at least 99%%", name, 100*rate)
		}
	}
}

func names(nodes []*testcluster.Node) []string {
	var s []string
	for _, nd := range nodes {
		s = append(s, nd.Name)
	}
	return s
}

// waitMembers waits until each of nodes sees exactly n members.
func waitMembers(t *testing.T, nodes []*testcluster.Node, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, nd := range nodes {
		for len(nd.Cluster.Members()) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d members, want %d", nd.Name, len(nd.Cluster.Members()), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
