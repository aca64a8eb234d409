package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/peer"
)

// putMany stores n records through s and waits until their replicas are written.
func putMany(t *testing.T, tc *testCluster, s *Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	before := s.Stats().Replicated
	for i := range ids {
		ids[i] = s.NewID()
		if err := s.Put(ctx(t), ids[i], tc.record(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return s.Stats().Replicated-before >= uint64(n*(s.cfg.Replicas-1)) })
	return ids
}

// readable counts the ids that r can read.
func readable(t *testing.T, r *Store, ids []string) int {
	t.Helper()
	n := 0
	for _, id := range ids {
		if _, err := r.Get(ctx(t), id); err == nil {
			n++
		}
	}
	return n
}

// TestCrashKeepsReplicas: a node that dies without a word takes no record
// with it: its replicas answer, first while the others still think it is
// alive, then after they notice.
func TestCrashKeepsReplicas(t *testing.T) {
	tc := newTestCluster(t, 3)
	a, b, c := tc.stores[0], tc.stores[1], tc.stores[2]
	ids := putMany(t, tc, a, 200)
	a.Close() // no Leave; the membership still lists a
	if n := readable(t, b, ids); n != len(ids) {
		t.Errorf("before the crash is noticed: b reads %d of %d", n, len(ids))
	}
	tc.fake.remove("node-0")
	tc.waitRing(t, 2) // only b and c are waited on: a is closed
	waitFor(t, func() bool { return !b.Stats().Rebalancing && !c.Stats().Rebalancing })
	for _, s := range []*Store{b, c} {
		if n := readable(t, s, ids); n != len(ids) {
			t.Errorf("%s reads %d of %d after the crash", s.self, n, len(ids))
		}
	}
	// The rebalance gave every record its second copy back: each is on both.
	for _, id := range ids {
		_, okB, _ := b.mem.get(id, tc.clock.Now())
		_, okC, _ := c.mem.get(id, tc.clock.Now())
		if !okB || !okC {
			t.Fatalf("a record is not on both survivors (b %v, c %v)", okB, okC)
		}
	}
}

// TestLeaveHandsOver: a node that leaves on purpose hands its records over,
// even with a single copy of each.
func TestLeaveHandsOver(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Replicas = 1 })
	a, b := tc.stores[0], tc.stores[1]
	ids := putMany(t, tc, a, 300)
	if err := a.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.HandedOff != 300 || st.Sessions != 0 {
		t.Errorf("a handed over %d and kept %d, want 300 and 0", st.HandedOff, st.Sessions)
	}
	a.Close()
	tc.fake.remove("node-0")
	if n := readable(t, b, ids); n != len(ids) {
		t.Errorf("b reads %d of %d after a left", n, len(ids))
	}
	if err := a.Leave(ctx(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Leave after Close: %v", err)
	}
}

// TestLeaveAfterWithdrawalSeen: with a real membership, withdrawing from the
// ring is gossiped back to the leaving node itself, which may rebuild its
// view without itself before it hands anything over. Leave must hand over
// all the same: here the rebuild always wins that race.
func TestLeaveAfterWithdrawalSeen(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Replicas = 1 })
	a, b := tc.stores[0], tc.stores[1]
	ids := putMany(t, tc, a, 300)
	tc.fake.mu.Lock()
	tc.fake.afterAdvertise = func(name string) {
		if name == a.self {
			waitFor(t, func() bool { return a.view.Load().ring.Len() == 2 })
		}
	}
	tc.fake.mu.Unlock()
	if err := a.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.HandedOff != 300 || st.Sessions != 0 {
		t.Errorf("a handed over %d and kept %d, want 300 and 0", st.HandedOff, st.Sessions)
	}
	a.Close()
	tc.fake.remove(a.self)
	if n := readable(t, b, ids); n != len(ids) {
		t.Errorf("b reads %d of %d after a left", n, len(ids))
	}
}

// TestRestartDuringRebalance: a node that leaves and comes back under the
// same name while the others still move records is a new, empty member. The
// ring it left is no guide to where records are: its names match the new
// ring's, but the records the old process held are with the members that
// took them over. Reads must ask those, and the rebalance must send them
// to the new process. The rebalance is slowed to a crawl, so it is still
// under way throughout.
func TestRestartDuringRebalance(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Replicas = 1; c.RebalanceRate = 1 })
	a := tc.stores[0]
	ids := putMany(t, tc, a, 300)
	if err := a.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	tc.waitRing(t, 2)
	a.Close()
	a2 := tc.add(t, a.self, tc.secret, func(c *Config) { c.Replicas = 1; c.RebalanceRate = 1 })
	tc.waitRing(t, 3)
	for _, s := range tc.stores[1:3] {
		v := s.view.Load()
		if !v.moving {
			t.Fatalf("%s: the rebalance has settled; the test needs it under way", s.self)
		}
		if slices.Contains(v.prev.Nodes(), a.self) {
			t.Errorf("%s still takes the restarted %s for a holder of its old records", s.self, a.self)
		}
	}
	if n := readable(t, a2, ids); n != len(ids) {
		t.Errorf("the restarted node reads %d of %d", n, len(ids))
	}
}

// TestJoinMovesRecords: when a node joins, the records it now owns move to
// it, and every record stays readable throughout.
func TestJoinMovesRecords(t *testing.T) {
	tc := newTestCluster(t, 2)
	a := tc.stores[0]
	ids := putMany(t, tc, a, 300)
	d := tc.add(t, "node-9", tc.secret)
	tc.waitRing(t, 3)
	if n := readable(t, d, ids); n != len(ids) {
		t.Errorf("during the rebalance the new node reads %d of %d", n, len(ids))
	}
	waitFor(t, func() bool {
		for _, s := range tc.stores {
			if s.Stats().Rebalancing {
				return false
			}
		}
		return true
	})
	moved := 0
	for _, id := range ids {
		if _, ok, _ := d.mem.get(id, tc.clock.Now()); ok {
			moved++
		}
	}
	// node-9 now holds about 2/3 of the records (R=2 of 3 nodes).
	if moved < len(ids)/3 {
		t.Errorf("the new node holds %d of %d records", moved, len(ids))
	}
	if a.Stats().Rebalanced == 0 && tc.stores[1].Stats().Rebalanced == 0 {
		t.Error("no record was rebalanced")
	}
}

// TestReadRepair: an owner that lost a record (it restarted) gets it back
// from the replica on the next read.
func TestReadRepair(t *testing.T) {
	tc := newTestCluster(t, 3)
	a := tc.stores[0]
	ids := putMany(t, tc, a, 1)
	a.mem.delete(ids[0]) // as if a had restarted
	// Read on the node that is neither owner nor replica.
	owners := a.view.Load().placement(ids[0])
	reader := tc.stores[1]
	if slices.Contains(owners, reader.self) {
		reader = tc.stores[2]
	}
	if _, err := reader.Get(ctx(t), ids[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok, _ := a.mem.get(ids[0], tc.clock.Now()); return ok })
}

// TestSlowOwner: an owner that answers after the deadline costs only its
// share of the lookup's time; the replica answers within the rest.
func TestSlowOwner(t *testing.T) {
	tc := newTestCluster(t, 2)
	a, b := tc.stores[0], tc.stores[1]
	// A member whose peer server answers after a second.
	slowTLS, _ := cluster.PeerTLSConfig("slow", tc.secret)
	srv := peer.NewServer(peer.HandlerFunc(func(*peer.Request) peer.Response {
		time.Sleep(time.Second)
		return peer.Response{Status: peer.StatusNotFound}
	}), slowTLS, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	tc.fake.join("slow").Advertise(ln.Addr().String(), peer.Version)
	tc.waitRing(t, 3)

	// An ID the slow member owns and a replicates, stored on a only.
	waitFor(t, func() bool { return !a.Stats().Rebalancing && !b.Stats().Rebalancing })
	var id string
	r := a.view.Load().ring
	for id = randomID(); !slices.Equal(r.Owners(id, 2), []string{"slow", "node-0"}); id = randomID() {
	}
	a.putLocal(id, mustMarshal(t, tc.record("v")), tc.clock.Now().Add(time.Hour))

	lookup, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	got, err := b.Get(lookup, id)
	if err != nil || string(got.Value) != "v" {
		t.Fatalf("Get = %q, %v", got.Value, err)
	}
	// Generous: the bound is 300ms; the slow member answers only after 1s.
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("the lookup took %v", d)
	}
}

func randomID() string {
	b := make([]byte, IDLen)
	rand.Read(b)
	return string(b)
}

func mustMarshal(t *testing.T, r Record) []byte {
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPeersConnectEarly: a store connects to every peer as soon as it is on
// the ring, so the first lookup there does not pay for a TLS handshake.
func TestPeersConnectEarly(t *testing.T) {
	tc := newTestCluster(t, 4)
	for _, s := range tc.stores {
		waitFor(t, func() bool { return s.Stats().PeersConnected == 3 })
		if st := s.Stats(); st.RemoteHits+st.Misses+st.RemotePuts != 0 {
			t.Fatalf("%s made lookups: %+v", s.self, st)
		}
	}
}

func TestPeerLatencyHistogram(t *testing.T) {
	tc := newTestCluster(t, 2, func(c *Config) { c.Replicas = 1 })
	a, b := tc.stores[0], tc.stores[1]
	ids := putMany(t, tc, a, 10)
	readable(t, b, ids)
	h := b.Stats().PeerLatency
	if h.Count() != 10 || h.Sum <= 0 || len(h.Counts) != len(h.Bounds)+1 {
		t.Errorf("histogram %+v", h)
	}
}
