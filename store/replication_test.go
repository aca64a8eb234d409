package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/testclock"
	"github.com/sessionmesh/sessionmesh/store/internal/peer"
	"github.com/sessionmesh/sessionmesh/store/internal/ring"
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
		_, okB, _ := b.tls.mem.get(id, tc.clock.Now())
		_, okC, _ := c.tls.mem.get(id, tc.clock.Now())
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
		if v.from.ring == nil {
			t.Fatalf("%s: the rebalance has settled; the test needs it under way", s.self)
		}
		for _, p := range append(v.past, v.from) {
			if slices.Contains(p.ring.Nodes(), a.self) {
				t.Errorf("%s still takes the restarted %s for a holder of its old records", s.self, a.self)
			}
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
		if _, ok, _ := d.tls.mem.get(id, tc.clock.Now()); ok {
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
	a.tls.mem.delete(ids[0]) // as if a had restarted
	// Read on the node that is neither owner nor replica.
	owners := a.view.Load().placement(ids[0])
	reader := tc.stores[1]
	if slices.Contains(owners, reader.self) {
		reader = tc.stores[2]
	}
	if _, err := reader.Get(ctx(t), ids[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok, _ := a.tls.mem.get(ids[0], tc.clock.Now()); return ok })
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
	a.store(a.tls, id, mustMarshal(t, tc.record("v")))

	// The slow member answers after 1s, beyond the lookup's deadline: the
	// Get succeeds only if the slow member got just its share of the time
	// and the replica was asked in the rest.
	lookup, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	got, err := b.Get(lookup, id)
	if err != nil || string(got.Value) != "v" {
		t.Fatalf("Get = %q, %v; want the replica's record within the deadline", got.Value, err)
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

// slowRebalance keeps a store's rebalance under way for the whole test: it
// looks at one record a second.
func slowRebalance(c *Config) { c.RebalanceRate = 1 }

func singleCopy(c *Config) { c.Replicas = 1 }

// notMoving reports whether none of stores is still moving records.
func notMoving(stores ...*Store) func() bool {
	return func() bool {
		for _, s := range stores {
			if s.Stats().Rebalancing {
				return false
			}
		}
		return true
	}
}

// TestLeaveDuringRebalance: a node that leaves while it still owes records
// to a member that just joined hands them over all the same. On its current
// ring the new member already owns them; Leave must not take that to mean
// it has them.
func TestLeaveDuringRebalance(t *testing.T) {
	tc := newTestCluster(t, 2, singleCopy, slowRebalance)
	a, b := tc.stores[0], tc.stores[1]
	ids := putMany(t, tc, a, 300)
	tc.add(t, "node-9", tc.secret, singleCopy) // a owes it about a third, at a record a second
	tc.waitRing(t, 3)
	if err := a.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	tc.fake.remove(a.self)
	tc.waitRing(t, 2)
	if n := readable(t, b, ids); n != len(ids) {
		t.Errorf("after a Leave during a rebalance, %d of %d records remain", n, len(ids))
	}
}

// TestTwoChangesInARow: b, slow, still holds records that belong to node-2
// when node-3 joins too. The others have long finished their own moves;
// their reads must still find b's records, two rings back.
func TestTwoChangesInARow(t *testing.T) {
	tc := &testCluster{fake: newFakeCluster(), secret: cluster.NewSecret(), clock: testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))}
	a := tc.add(t, "node-0", tc.secret, singleCopy)
	b := tc.add(t, "node-1", tc.secret, singleCopy, slowRebalance)
	tc.waitRing(t, 2)
	ids := putMany(t, tc, b, 300) // all on b
	tc.add(t, "node-2", tc.secret, singleCopy)
	tc.waitRing(t, 3)
	tc.add(t, "node-3", tc.secret, singleCopy)
	tc.waitRing(t, 4)
	waitFor(t, notMoving(a, tc.stores[2], tc.stores[3]))
	if n := readable(t, a, ids); n != len(ids) {
		t.Errorf("a reads %d of %d records; b still holds %d of them", n, len(ids), len(b.tls.mem.keys()))
	}
}

// TestSendToGoneMember: a record is dropped only once its new owners have
// it; a member gone from the ring (it left or died between the ring change
// and the copy) has not taken it.
func TestSendToGoneMember(t *testing.T) {
	tc := newTestCluster(t, 2, singleCopy)
	a, b := tc.stores[0], tc.stores[1]
	ids := putMany(t, tc, a, 200)
	from := a.view.Load().ring
	to := ring.New(append(from.Nodes(), "gone"), 0, nil)
	res, err := a.move(ctx(t), a.tls, []*ring.Ring{from}, to, nil, rate.NewLimiter(rate.Inf, 0), new(atomic.Uint64), func(string, []string, bool) {})
	if err != nil || res.kept == 0 {
		t.Errorf("move: %+v, %v; want records kept for the gone member", res, err)
	}
	for _, id := range ids {
		_, okA, _ := a.tls.mem.get(id, tc.clock.Now())
		_, okB, _ := b.tls.mem.get(id, tc.clock.Now())
		if !okA && !okB {
			t.Fatal("a record was dropped though nobody took it")
		}
	}
}

// TestRebalanceRetries: a rebalance that cannot reach a new owner keeps the
// records and tries again until it can; it does not count as finished, so
// the next change cannot drop them as moved.
func TestRebalanceRetries(t *testing.T) {
	var block atomic.Bool
	var reachable atomic.Value // the one data address a may dial while blocked
	reachable.Store("")
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if block.Load() && addr != reachable.Load().(string) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("blocked by the test")}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tc := newTestCluster(t, 2, singleCopy, func(c *Config) { c.Dial = dial })
	a, b := tc.stores[0], tc.stores[1]
	ids := putMany(t, tc, a, 300)
	reachable.Store(b.Addr())
	block.Store(true) // node-9 is unreachable from a for a while
	tc.add(t, "node-9", tc.secret, singleCopy)
	tc.waitRing(t, 3)
	waitFor(t, func() bool { return a.Stats().CopyErrors > 0 })
	if !a.Stats().Rebalancing {
		t.Fatal("a rebalance that could not send counts as finished")
	}
	block.Store(false)
	tc.add(t, "node-10", tc.secret, singleCopy)
	tc.waitRing(t, 4)
	waitFor(t, notMoving(tc.stores...))
	if n := readable(t, b, ids); n != len(ids) {
		t.Errorf("after a blocked rebalance and one more join, %d of %d records remain", n, len(ids))
	}
	for _, id := range ids {
		owner := b.view.Load().placement(id)[0]
		if _, ok, _ := tc.storeNamed(owner).tls.mem.get(id, tc.clock.Now()); !ok {
			t.Fatalf("a record is not on its owner %s", owner)
		}
	}
}

// gatedMembership holds back a store's view of the membership until the
// gate opens, so that the test can write records before the store has a ring.
type gatedMembership struct {
	*fakeNode
	gate chan struct{}
}

func (g gatedMembership) Watch() (<-chan struct{}, func()) {
	in, stop := g.fakeNode.Watch()
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-g.gate:
		case <-done:
			return
		}
		for {
			select {
			case <-in:
				select {
				case out <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	})
	return out, func() { close(done); wg.Wait(); stop() }
}

// TestEmptyRingKeepsRecords: a store whose ring has no members (it
// withdrew, as Close does, and nobody else serves) has nowhere to hand its
// records and keeps them. (Found by the churn simulation: the rebalance
// saw no owners, took "every owner has it" to hold, and dropped them all.)
func TestEmptyRingKeepsRecords(t *testing.T) {
	tc := newTestCluster(t, 1)
	s := tc.stores[0]
	id := s.NewID()
	if err := s.Put(ctx(t), id, tc.record("kept")); err != nil {
		t.Fatal(err)
	}
	if err := s.m.Advertise("", peer.Version); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st := s.Stats(); return st.RingNodes == 0 && !st.Rebalancing })
	if _, _, ok := s.tls.mem.peek(id, tc.clock.Now()); !ok {
		t.Fatal("the record was dropped")
	}
}

// TestPutBeforeFirstRing: records a store took before it knew the cluster
// (it kept them all) reach all their owners once it does.
func TestPutBeforeFirstRing(t *testing.T) {
	tc := newTestCluster(t, 2)
	tlsConf, err := cluster.PeerTLSConfig("node-2", tc.secret)
	if err != nil {
		t.Fatal(err)
	}
	g := gatedMembership{tc.fake.join("node-2"), make(chan struct{})}
	c, err := New(g, Config{Addr: "127.0.0.1:0", TLS: tlsConf, Now: tc.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tc.stores = append(tc.stores, c)
	var ids []string
	for range 300 {
		id := c.NewID()
		if err := c.Put(ctx(t), id, tc.record("v")); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	close(g.gate)
	tc.waitRing(t, 3)
	waitFor(t, notMoving(tc.stores...))
	for _, id := range ids {
		for _, o := range c.view.Load().placement(id) {
			if _, ok, _ := tc.storeNamed(o).tls.mem.get(id, tc.clock.Now()); !ok {
				t.Fatalf("a record is not on its owner %s", o)
			}
		}
	}
}

// TestSharedLookupOwnDeadline: a Get with a long deadline that joins a
// lookup of the same ID begun by a Get with a short one is not failed by
// the short one's deadline: it finds the record at the replica.
func TestSharedLookupOwnDeadline(t *testing.T) {
	tc := newTestCluster(t, 2)
	a, b := tc.stores[0], tc.stores[1]
	release := make(chan struct{})
	silentTLS, _ := cluster.PeerTLSConfig("silent", tc.secret)
	srv := peer.NewServer(peer.HandlerFunc(func(*peer.Request) peer.Response {
		<-release // never answers while the test runs
		return peer.Response{Status: peer.StatusNotFound}
	}), silentTLS, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	defer close(release) // first: Close waits for the handler
	tc.fake.join("silent").Advertise(ln.Addr().String(), peer.Version)
	tc.waitRing(t, 3)
	waitFor(t, func() bool { return !a.Stats().Rebalancing && !b.Stats().Rebalancing })
	var id string
	r := b.view.Load().ring
	for id = randomID(); !slices.Equal(r.Owners(id, 2), []string{"silent", "node-0"}); id = randomID() {
	}
	a.store(a.tls, id, mustMarshal(t, tc.record("v")))

	// The short Get is cut off while it waits for the silent owner, after
	// the long one has joined its lookup.
	short, cancelShort := context.WithCancel(context.Background())
	shortErr := make(chan error, 1)
	go func() { _, err := b.Get(short, id); shortErr <- err }()
	waiting := func(n int) func() bool {
		return func() bool {
			b.flights.mu.Lock()
			defer b.flights.mu.Unlock()
			fl := b.flights.m[id]
			return fl != nil && fl.waiting == n
		}
	}
	waitFor(t, waiting(0))
	type result struct {
		r   Record
		err error
	}
	long, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	longDone := make(chan result, 1)
	go func() { r, err := b.Get(long, id); longDone <- result{r, err} }()
	waitFor(t, waiting(1))
	cancelShort()
	if err := <-shortErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the cut-off Get: %v, want context.Canceled", err)
	}
	if got := <-longDone; got.err != nil || string(got.r.Value) != "v" {
		t.Errorf("the Get with 2s: %q, %v; want the record, from the replica", got.r.Value, got.err)
	}
}
