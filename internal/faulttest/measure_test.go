package faulttest

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/faultnet"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
	"github.com/sessionmesh/sessionmesh/store"
)

// The rebalance and retention figures in docs/operations.md ("Measured").
// They take a minute or two, so they run only when asked:
//
//	SESSIONMESH_MEASURE=1 go test -run TestMeasure -v -timeout 30m ./internal/faulttest
//
// SESSIONMESH_SESSIONS sets how many sessions the cluster holds (default
// 50 000). Sessions are written straight into the store, as WrapSession
// writes them (a TLS 1.3 session state of 57 bytes for "a.example": a
// 92-byte record), so that a large number costs seconds, not minutes of
// handshakes; the fault tests above show the same with real handshakes.
// Traffic is what the nodes' peer connections carry, TLS included, in both
// directions; gossip is not counted.

func measuring(t *testing.T) {
	t.Helper()
	if os.Getenv("SESSIONMESH_MEASURE") == "" {
		t.Skip("set SESSIONMESH_MEASURE=1 to measure")
	}
}

func sessionCount() int {
	if n, err := strconv.Atoi(os.Getenv("SESSIONMESH_SESSIONS")); err == nil && n > 0 {
		return n
	}
	return 50_000
}

// meter counts the bytes on every peer connection the nodes open.
type meter struct{ bytes atomic.Int64 }

// options returns cluster options whose peer connections m counts.
func (m *meter) options(fnet *faultnet.Network) testcluster.Options {
	return testcluster.Options{Net: fnet, Store: func(sc *store.Config) {
		dial := sc.Dial
		if dial == nil {
			dial = (&netDialer).DialContext
		}
		sc.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countedConn{Conn: c, m: m}, nil
		}
	}}
}

var netDialer = net.Dialer{KeepAlive: 15 * time.Second}

type countedConn struct {
	net.Conn
	m *meter
}

func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.m.bytes.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.m.bytes.Add(int64(n))
	return n, err
}

// fill stores n sessions, round-robin over nodes, each under an ID its node
// owns, as WrapSession does, and waits until every replica is written.
func fill(t *testing.T, c *testcluster.Cluster, nodes []*testcluster.Node, n int) []string {
	t.Helper()
	ids := make([]string, n)
	value := make([]byte, 57)
	ctx := context.Background()
	for i := range ids {
		nd := nodes[i%len(nodes)]
		for nd.Store.Stats().CopiesPending > 4000 { // stay clear of the copy queue's bound
			time.Sleep(time.Millisecond)
		}
		rand.Read(value)
		now := time.Now()
		ids[i] = nd.Store.NewID()
		r := store.Record{Value: value, ServerName: "a.example", Created: now, Expires: now.Add(time.Hour)}
		if err := nd.Store.Put(ctx, ids[i], r); err != nil {
			t.Fatal(err)
		}
	}
	waitReplicated(t, c)
	for _, nd := range c.Running() {
		if d := nd.Store.Stats().CopiesDropped; d > 0 {
			t.Fatalf("%s dropped %d copies while filling", nd.Name, d)
		}
	}
	return ids
}

// retained returns the share of ids that a random one of nodes finds.
func retained(t *testing.T, ids []string, nodes []*testcluster.Node) float64 {
	t.Helper()
	found := 0
	for _, id := range ids {
		nd := nodes[mrand.IntN(len(nodes))]
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := nd.Store.Get(ctx, id); err == nil {
			found++
		}
		cancel()
	}
	return float64(found) / float64(len(ids))
}

// moved sums the records the nodes sent to new owners (rebalance, read
// repair and handoff) and to replicas.
func moved(nodes []*testcluster.Node) (copies uint64) {
	for _, nd := range nodes {
		st := nd.Store.Stats()
		copies += st.Rebalanced + st.HandedOff + st.Repaired + st.Replicated
	}
	return copies
}

// held sums the records the nodes hold.
func held(nodes []*testcluster.Node) (n int) {
	for _, nd := range nodes {
		n += nd.Store.Stats().Sessions
	}
	return n
}

// window measures one scenario: its time, the copies sent and the bytes on
// peer connections, from start to done.
type window struct {
	m      *meter
	nodes  func() []*testcluster.Node
	start  time.Time
	copies uint64
	bytes  int64
}

func begin(m *meter, nodes func() []*testcluster.Node) *window {
	return &window{m: m, nodes: nodes, start: time.Now(), copies: moved(nodes()), bytes: m.bytes.Load()}
}

// report logs the window's figures; copiesBefore adjusts for nodes that
// left the cluster (and took their counters with them) or joined it.
func (w *window) report(t *testing.T, what string, copiesGone uint64) {
	t.Helper()
	d := time.Since(w.start)
	copies := moved(w.nodes()) + copiesGone - w.copies
	bytes := w.m.bytes.Load() - w.bytes
	per := 0.0
	if copies > 0 {
		per = float64(bytes) / float64(copies)
	}
	t.Logf("%s: %v, %d records copied, %.1f MB on peer connections (%.0f bytes per record)",
		what, d.Round(10*time.Millisecond), copies, float64(bytes)/1e6, per)
}

func perNode(nodes []*testcluster.Node) string {
	s := ""
	for _, nd := range nodes {
		s += fmt.Sprintf(" %s=%d", nd.Name, nd.Store.Stats().Sessions)
	}
	return s
}

// TestMeasureJoin: a sixth node joins five that hold the sessions.
func TestMeasureJoin(t *testing.T) {
	measuring(t)
	m := &meter{}
	c := testcluster.Start(t, 5, m.options(nil))
	ids := fill(t, c, c.Nodes, sessionCount())
	t.Logf("%d sessions, %d records held:%s", len(ids), held(c.Nodes), perNode(c.Nodes))

	w := begin(m, c.Running)
	c.AddNode()
	c.WaitRing(6)
	t.Logf("join: every node has the new node on its ring after %v", time.Since(w.start).Round(time.Millisecond))
	c.WaitSettled(6)
	w.report(t, "join: rebalanced", 0)
	t.Logf("after the join:%s", perNode(c.Nodes))
	t.Logf("join: %.2f%% of sessions found", 100*retained(t, ids, c.Nodes))
}

// TestMeasureCrash: one of five nodes stops without a word.
func TestMeasureCrash(t *testing.T) {
	measuring(t)
	m := &meter{}
	c := testcluster.Start(t, 5, m.options(nil))
	ids := fill(t, c, c.Nodes, sessionCount())
	victim := c.Nodes[2]
	t.Logf("%d sessions, %d records held:%s", len(ids), held(c.Nodes), perNode(c.Nodes))

	w := begin(m, c.Running)
	w.copies -= moved([]*testcluster.Node{victim}) // its counters leave with it
	victim.Stop()
	c.WaitRing(4)
	t.Logf("crash: every survivor has rebuilt its ring after %v", time.Since(w.start).Round(time.Millisecond))
	c.WaitSettled(4)
	w.report(t, "crash: detected and rebalanced", 0)
	t.Logf("after the crash:%s", perNode(c.Running()))
	t.Logf("crash: %.2f%% of sessions found on the survivors", 100*retained(t, ids, c.Running()))
}

// TestMeasureLeave: one of five nodes leaves gracefully: it hands its
// records over, leaves the cluster, and stops; with two copies of each
// record (the default) and with one.
func TestMeasureLeave(t *testing.T) {
	measuring(t)
	for _, replicas := range []int{2, 1} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			m := &meter{}
			opts := m.options(nil)
			count := opts.Store
			opts.Store = func(sc *store.Config) { count(sc); sc.Replicas = replicas }
			c := testcluster.Start(t, 5, opts)
			ids := fill(t, c, c.Nodes, sessionCount())
			leaver := c.Nodes[2]
			t.Logf("%d sessions, %d records held:%s", len(ids), held(c.Nodes), perNode(c.Nodes))

			w := begin(m, c.Running)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := leaver.Store.Leave(ctx); err != nil {
				t.Fatal(err)
			}
			handoff := time.Since(w.start)
			gone := moved([]*testcluster.Node{leaver})
			if err := leaver.Cluster.Leave(context.Background()); err != nil {
				t.Fatal(err)
			}
			leaver.Stop()
			c.WaitSettled(4)
			t.Logf("leave, R=%d: store.Leave handed %d records over in %v", replicas, leaver.Store.Stats().HandedOff, handoff.Round(time.Millisecond))
			w.report(t, fmt.Sprintf("leave, R=%d: handed over and settled", replicas), gone)
			t.Logf("after the leave:%s", perNode(c.Running()))
			t.Logf("leave, R=%d: %.2f%% of sessions found on the others", replicas, 100*retained(t, ids, c.Running()))
		})
	}
}

// TestMeasurePartition: five nodes split 2 + 3, each side takes sessions,
// and the network heals.
func TestMeasurePartition(t *testing.T) {
	measuring(t)
	net := faultnet.New()
	m := &meter{}
	c := testcluster.Start(t, 5, m.options(net))
	before := fill(t, c, c.Nodes, sessionCount())
	a, b := c.Nodes[:2], c.Nodes[2:]
	t.Logf("%d sessions, %d records held:%s", len(before), held(c.Nodes), perNode(c.Nodes))

	w := begin(m, c.Running)
	net.Partition(names(a), names(b))
	waitMembers(t, a, 2)
	waitMembers(t, b, 3)
	t.Logf("partition: both sides see only themselves after %v", time.Since(w.start).Round(time.Millisecond))
	for _, side := range [][]*testcluster.Node{a, b} {
		waitSide(t, side)
	}
	w.report(t, "partition: each side re-replicated", 0)
	split := time.Now()
	var during []string
	for _, side := range [][]*testcluster.Node{a, b} {
		during = append(during, fill(t, c, side, sessionCount()/10)...)
	}
	t.Logf("partition: %.2f%% of the sessions from before found on the 2-node side, %.2f%% on the 3-node side",
		100*retained(t, before, a), 100*retained(t, before, b))

	w = begin(m, c.Running)
	net.Heal()
	waitMembers(t, c.Nodes, 5)
	t.Logf("heal: one cluster again after %v (partitioned for %v)", time.Since(w.start).Round(time.Millisecond), time.Since(split).Round(time.Second))
	c.WaitSettled(5)
	w.report(t, "heal: merged and rebalanced", 0)
	t.Logf("heal: %.2f%% of sessions from before the partition found, %.2f%% of those made during it",
		100*retained(t, before, c.Nodes), 100*retained(t, during, c.Nodes))
}

// waitSide waits until every node of one side has exactly that side on its
// ring and no records moving.
func waitSide(t *testing.T, side []*testcluster.Node) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, nd := range side {
		for st := nd.Store.Stats(); st.RingNodes != len(side) || st.Rebalancing; st = nd.Store.Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: ring of %d, rebalancing %v", nd.Name, st.RingNodes, st.Rebalancing)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestMeasureRollingRestart: each of five nodes in turn stops and a new
// process takes its place, the cluster settling after each, in four ways:
//
//   - same-name: graceful stop (store.Leave, Node.Leave, Close), and the new
//     process starts at once under the old name, on new ports;
//   - same-name-after-settle: the same, but the new process starts only once
//     the remaining four have settled (ring rebuilt, no records moving);
//   - new-name: graceful stop, and the new process starts at once under a
//     new name (as a Kubernetes Deployment names its pods);
//   - crash-same-name: the node stops without a word (a crash, an OOM kill)
//     and is restarted at once under its name.
//
// These run on cluster.Node and store.Store directly, without TLS servers,
// since only the records matter.
func TestMeasureRollingRestart(t *testing.T) {
	measuring(t)
	for _, mode := range []string{"same-name", "same-name-after-settle", "new-name", "crash-same-name"} {
		t.Run(mode, func(t *testing.T) {
			m := &meter{}
			c := &bareCluster{t: t, m: m, secret: cluster.NewSecret()}
			for i := range 5 {
				c.start(fmt.Sprintf("node-%d", i))
			}
			c.settle(5)
			ids := c.fill(sessionCount())
			start, bytes := time.Now(), m.bytes.Load()
			for i := range 5 {
				old := c.nodes[i]
				began := time.Now()
				name := old.name
				switch mode {
				case "crash-same-name":
					old.crash()
				default:
					old.leave(t)
				}
				if mode == "same-name-after-settle" {
					c.settle(4)
				}
				if mode == "new-name" {
					name += "-new"
				}
				c.nodes[i] = c.start(name)
				c.known(c.nodes[i])
				c.settle(5)
				t.Logf("%s: %s replaced and settled after %v", mode, old.name, time.Since(began).Round(time.Millisecond))
			}
			t.Logf("%s: 5 restarts took %v, %.1f MB on peer connections", mode,
				time.Since(start).Round(100*time.Millisecond), float64(m.bytes.Load()-bytes)/1e6)
			t.Logf("%s: %.2f%% of %d sessions found after restarting every node, %d records held (want %d)",
				mode, 100*c.retained(ids), len(ids), c.held(), 2*len(ids))
		})
	}
}

// bareCluster is a cluster of membership and store only, on loopback.
type bareCluster struct {
	t      *testing.T
	m      *meter
	secret []byte
	nodes  []*bareNode
}

type bareNode struct {
	name    string
	node    *cluster.Node
	store   *store.Store
	stopped bool
}

func (c *bareCluster) start(name string) *bareNode {
	t := c.t
	t.Helper()
	cfg := cluster.LocalConfig()
	cfg.Name, cfg.Secret = name, c.secret
	n, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := store.Config{Addr: "127.0.0.1:0", TLS: n.PeerTLS()}
	c.m.options(nil).Store(&sc)
	st, err := store.New(n, sc)
	if err != nil {
		t.Fatal(err)
	}
	nd := &bareNode{name: name, node: n, store: st}
	t.Cleanup(nd.crash)
	for _, seed := range c.running() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := n.Join(ctx, seed.node.Addr())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if len(c.nodes) < 5 {
		c.nodes = append(c.nodes, nd)
	}
	return nd
}

// known waits until every running node lists nd at its data address: a
// process that took over the name of one not yet declared dead is refused
// until the old one is (memberlist's DeadNodeReclaimTime).
func (c *bareCluster) known(nd *bareNode) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for _, other := range c.running() {
		for !slices.ContainsFunc(other.node.Members(), func(m cluster.Member) bool {
			return m.Name == nd.name && m.DataAddr == nd.store.Addr()
		}) {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s never saw the new %s", other.name, nd.name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (c *bareCluster) running() []*bareNode {
	var out []*bareNode
	for _, nd := range c.nodes {
		if !nd.stopped {
			out = append(out, nd)
		}
	}
	return out
}

// settle waits until every running node has n members on its ring, a live
// connection to each of the others, and no records moving.
func (c *bareCluster) settle(n int) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for _, nd := range c.running() {
		for st := nd.store.Stats(); st.RingNodes != n || st.PeersConnected != n-1 || st.Rebalancing || st.CopiesPending > 0; st = nd.store.Stats() {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s: ring of %d, %d peers connected, rebalancing %v", nd.name, st.RingNodes, st.PeersConnected, st.Rebalancing)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (c *bareCluster) fill(n int) []string {
	c.t.Helper()
	ids := make([]string, n)
	value := make([]byte, 57)
	nodes := c.running()
	for i := range ids {
		nd := nodes[i%len(nodes)]
		for nd.store.Stats().CopiesPending > 4000 {
			time.Sleep(time.Millisecond)
		}
		rand.Read(value)
		now := time.Now()
		ids[i] = nd.store.NewID()
		r := store.Record{Value: value, ServerName: "a.example", Created: now, Expires: now.Add(time.Hour)}
		if err := nd.store.Put(context.Background(), ids[i], r); err != nil {
			c.t.Fatal(err)
		}
	}
	c.settle(len(nodes))
	return ids
}

func (c *bareCluster) retained(ids []string) float64 {
	nodes := c.running()
	found := 0
	for _, id := range ids {
		nd := nodes[mrand.IntN(len(nodes))]
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := nd.store.Get(ctx, id); err == nil {
			found++
		}
		cancel()
	}
	return float64(found) / float64(len(ids))
}

func (c *bareCluster) held() (n int) {
	for _, nd := range c.running() {
		n += nd.store.Stats().Sessions
	}
	return n
}

// leave stops the node gracefully, in the order docs/operations.md gives.
func (nd *bareNode) leave(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := nd.store.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nd.node.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	nd.store.Close()
	nd.node.Close()
	nd.stopped = true
}

// crash stops the node without a word: gossip first, so the store cannot
// withdraw from the ring politely.
func (nd *bareNode) crash() {
	nd.node.Close()
	nd.store.Close()
	nd.stopped = true
}
