package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testclock"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/internal/shard"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type testCluster struct {
	fake   *fakeCluster
	secret []byte
	clock  *testclock.Clock
	stores []*Store
}

// newTestCluster starts n stores on a fake membership and waits until each
// has all n on its ring.
func newTestCluster(t testing.TB, n int, opts ...func(*Config)) *testCluster {
	t.Helper()
	tc := &testCluster{fake: newFakeCluster(), secret: cluster.NewSecret(), clock: testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))}
	for i := range n {
		tc.add(t, fmt.Sprintf("node-%d", i), tc.secret, opts...)
	}
	tc.waitRing(t, n)
	return tc
}

func (tc *testCluster) add(t testing.TB, name string, secret []byte, opts ...func(*Config)) *Store {
	t.Helper()
	tlsConf, err := cluster.PeerTLSConfig(name, secret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: "127.0.0.1:0", TLS: tlsConf, Now: tc.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(tc.fake.join(name), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tc.stores = append(tc.stores, s)
	return s
}

func (tc *testCluster) waitRing(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range tc.stores {
		for !s.isClosed() && s.Stats().RingNodes != n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: ring has %d nodes, want %d", s.self, s.Stats().RingNodes, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func (tc *testCluster) record(value string) Record {
	now := tc.clock.Now()
	return Record{Value: []byte(value), ServerName: "a.example", Created: now, Expires: now.Add(time.Hour)}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestEveryNodeReadsEveryNode: a record put on any node is read on every node.
// One copy of each, so that every read but the owner's is remote.
func TestEveryNodeReadsEveryNode(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Replicas = 1 })
	ids := make([]string, len(tc.stores))
	for i, s := range tc.stores {
		ids[i] = s.NewID()
		if err := s.Put(ctx(t), ids[i], tc.record(fmt.Sprint("from ", i))); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.LocalPuts != 1 || st.RemotePuts != 0 {
			t.Errorf("%s: NewID's ID was not stored locally: %+v", s.self, st)
		}
	}
	for i, id := range ids {
		for j, s := range tc.stores {
			r, err := s.Get(ctx(t), id)
			if err != nil {
				t.Fatalf("node %d reading node %d's record: %v", j, i, err)
			}
			if want := fmt.Sprint("from ", i); string(r.Value) != want || r.ServerName != "a.example" {
				t.Errorf("node %d reading node %d's record: %q %q", j, i, r.Value, r.ServerName)
			}
		}
	}
	for i, s := range tc.stores {
		st := s.Stats()
		if st.LocalHits != 1 || st.RemoteHits != 2 || st.ServedGets != 2 {
			t.Errorf("node %d: %d local, %d remote hits, served %d; want 1, 2, 2", i, st.LocalHits, st.RemoteHits, st.ServedGets)
		}
	}
}

// TestPutToRemoteOwner: a Put of an ID another node owns goes to that node.
// (One copy of each record: with replicas, a may well be the replica.)
func TestPutToRemoteOwner(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Replicas = 1 })
	a, b := tc.stores[0], tc.stores[1]
	id := b.NewID() // owned by b
	if err := a.Put(ctx(t), id, tc.record("v")); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.RemotePuts != 1 || st.Sessions != 0 {
		t.Errorf("a: %+v", st)
	}
	if st := b.Stats(); st.ServedPuts != 1 || st.Sessions != 1 {
		t.Errorf("b: %+v", st)
	}
	for _, s := range tc.stores {
		if r, err := s.Get(ctx(t), id); err != nil || string(r.Value) != "v" {
			t.Errorf("%s: Get = %q, %v", s.self, r.Value, err)
		}
	}
}

func TestNewIDIsOwnedLocally(t *testing.T) {
	tc := newTestCluster(t, 5)
	s := tc.stores[2]
	r := s.view.Load().ring
	seen := make(map[string]bool)
	for range 1000 {
		id := s.NewID()
		if len(id) != IDLen || r.Owner(id) != s.self || seen[id] {
			t.Fatalf("NewID = %x: owner %s, seen before %v", id, r.Owner(id), seen[id])
		}
		seen[id] = true
	}
}

func TestNotFound(t *testing.T) {
	tc := newTestCluster(t, 3)
	for _, s := range tc.stores {
		for _, other := range tc.stores {
			_, err := s.Get(ctx(t), other.NewID())
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: Get of an unknown ID: %v, want ErrNotFound", s.self, err)
			}
		}
	}
}

// TestExpiry: records vanish at their expiry, locally and remotely, and
// say they expired until they are swept.
func TestExpiry(t *testing.T) {
	tc := newTestCluster(t, 2, func(c *Config) { c.Replicas = 1 })
	a, b := tc.stores[0], tc.stores[1]
	id := a.NewID()
	if err := a.Put(ctx(t), id, tc.record("v")); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(time.Hour - time.Second)
	if _, err := b.Get(ctx(t), id); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	tc.clock.Advance(time.Second)
	for _, s := range []*Store{b, a, b} { // remotely, locally, and remotely again
		if _, err := s.Get(ctx(t), id); !errors.Is(err, ErrExpired) {
			t.Errorf("%s after expiry: %v, want ErrExpired", s.self, err)
		}
	}
	a.tls.mem.expire(tc.clock.Now()) // what the sweep does every ExpiryInterval
	for _, s := range tc.stores {
		if _, err := s.Get(ctx(t), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after the sweep: %v, want ErrNotFound", s.self, err)
		}
	}
	if err := a.Put(ctx(t), a.NewID(), tc.record("v")); err != nil {
		t.Fatal(err)
	}
	past := tc.record("v")
	past.Expires = tc.clock.Now()
	if err := a.Put(ctx(t), a.NewID(), past); err == nil {
		t.Error("stored a record that had already expired")
	}
}

func TestDelete(t *testing.T) {
	tc := newTestCluster(t, 2)
	a, b := tc.stores[0], tc.stores[1]
	id := a.NewID()
	a.Put(ctx(t), id, tc.record("v"))
	waitFor(t, func() bool { return a.Stats().Replicated == 1 }) // Delete does not chase copies in flight
	if err := b.Delete(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx(t), id); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

// TestMemoryBound: a flood of puts keeps a node within its budget, dropping
// the least recently used records.
func TestMemoryBound(t *testing.T) {
	budget := 1000 * shard.Cost(IDLen, 100)
	tc := newTestCluster(t, 1, func(c *Config) { c.MaxBytes = budget })
	s := tc.stores[0]
	first := s.NewID()
	s.Put(ctx(t), first, tc.record("first"))
	for range 5000 {
		if err := s.Put(ctx(t), s.NewID(), tc.record("a session state of some 57 bytes, give or take")); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Bytes > budget || st.Evictions == 0 {
		t.Errorf("%d bytes of %d, %d evictions", st.Bytes, budget, st.Evictions)
	}
	if _, err := s.Get(ctx(t), first); !errors.Is(err, ErrNotFound) {
		t.Errorf("the least recently used record survived: %v", err)
	}
}

// TestDeadOwner: when the only holder of a record is gone, Get fails within
// its deadline and later Gets fail fast; nothing hangs.
func TestDeadOwner(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Replicas = 1 })
	a, b := tc.stores[0], tc.stores[1]
	id := a.NewID()
	a.Put(ctx(t), id, tc.record("v"))
	if _, err := b.Get(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	a.Close()
	for i := range 3 {
		// The deadline is generous: what matters is that the Get ends in an
		// error saying why, not how soon (a busy machine decides that).
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := b.Get(c, id)
		cancel()
		switch {
		case err == nil:
			t.Fatal("read a record from a closed node")
		case errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("Get %d waited out its deadline instead of failing: %v", i, err)
		case !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnavailable) && !isRefused(err):
			// Not found: a's store withdrew from the ring as it closed. Down
			// or refused: b still had it on its ring.
			t.Errorf("Get %d: %v; want ErrNotFound, ErrUnavailable or a refused connection", i, err)
		}
	}
	if _, err := a.Get(ctx(t), id); !errors.Is(err, ErrClosed) {
		t.Errorf("Get on a closed store: %v", err)
	}
}

// TestWrongSecret: a node with another cluster's secret, even if it gets
// onto the ring, can neither read from nor write to the others.
func TestWrongSecret(t *testing.T) {
	tc := newTestCluster(t, 2)
	a := tc.stores[0]
	id := a.NewID()
	a.Put(ctx(t), id, tc.record("secret"))
	evil := tc.add(t, "evil", cluster.NewSecret())
	tc.waitRing(t, 3)
	if r, err := evil.Get(ctx(t), id); err == nil {
		t.Fatalf("intruder read %q", r.Value)
	}
	if st := a.Stats(); st.ServedGets != 0 {
		t.Errorf("a served %d gets", st.ServedGets)
	}
}

// TestNoForwarding: a node that thinks another owns an ID asks it once; the
// other answers from its own memory and never forwards the request, even if
// its ring says the first node owns it.
func TestNoForwarding(t *testing.T) {
	tc := newTestCluster(t, 2)
	a, b := tc.stores[0], tc.stores[1]
	// An ID a owns, asked of a by b via a peer Get; a misses and must answer
	// NotFound rather than ask anyone.
	id := a.NewID()
	if _, err := b.Get(ctx(t), id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get = %v", err)
	}
	if st := a.Stats(); st.RemoteHits+st.RemoteErrors+st.Misses != 0 {
		t.Errorf("a made lookups of its own while serving: %+v", st)
	}
}

func TestConcurrentUse(t *testing.T) {
	tc := newTestCluster(t, 3)
	var wg sync.WaitGroup
	for _, s := range tc.stores {
		wg.Go(func() {
			for range 200 {
				id := s.NewID()
				if err := s.Put(ctx(t), id, tc.record("v")); err != nil {
					t.Error(err)
					return
				}
				for _, other := range tc.stores {
					if _, err := other.Get(ctx(t), id); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestBadInput(t *testing.T) {
	tc := newTestCluster(t, 1)
	s := tc.stores[0]
	if _, err := s.Get(ctx(t), ""); err == nil {
		t.Error("empty ID accepted")
	}
	if err := s.Put(ctx(t), string(make([]byte, 256)), tc.record("v")); err == nil {
		t.Error("256-byte ID accepted")
	}
	big := tc.record("")
	big.Value = make([]byte, MaxValue+1)
	if err := s.Put(ctx(t), s.NewID(), big); err == nil {
		t.Error("oversized value accepted")
	}
	if _, err := New(tc.fake.join("x"), Config{Addr: "127.0.0.1:0"}); err == nil {
		t.Error("New without TLS succeeded")
	}
}

func TestCloseTwice(t *testing.T) {
	tc := newTestCluster(t, 2)
	for _, s := range tc.stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tc.stores[0].Put(ctx(t), "id", tc.record("v")); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	// The closed stores withdrew their addresses.
	for _, m := range tc.fake.join("observer").Members() {
		if m.DataAddr != "" && slices.Contains([]string{"node-0", "node-1"}, m.Name) {
			t.Errorf("%s still advertises %s", m.Name, m.DataAddr)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// storeNamed returns the running store of the member called name.
func (tc *testCluster) storeNamed(name string) *Store {
	for _, s := range tc.stores {
		if s.self == name && !s.isClosed() {
			return s
		}
	}
	return nil
}

// TestRefusesWeakPeerTLS: a peer TLS config that would let a peer in without
// a certificate the cluster issued is refused at construction, with an error
// that says what to fix.
func TestRefusesWeakPeerTLS(t *testing.T) {
	tc := newTestCluster(t, 1)
	good, err := cluster.PeerTLSConfig("x", tc.secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		modify func(*tls.Config)
		want   string
	}{
		{"no client certificate required", func(c *tls.Config) { c.ClientAuth = tls.NoClientCert }, "ClientAuth"},
		{"client certificate not verified", func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert }, "ClientAuth"},
		{"verified only if given", func(c *tls.Config) { c.ClientAuth = tls.VerifyClientCertIfGiven }, "ClientAuth"},
		{"system CAs for clients", func(c *tls.Config) { c.ClientCAs = nil }, "ClientCAs"},
		{"system CAs for servers", func(c *tls.Config) { c.RootCAs = nil }, "RootCAs"},
		{"no verification", func(c *tls.Config) { c.InsecureSkipVerify = true }, "InsecureSkipVerify"},
		{"no certificate", func(c *tls.Config) { c.GetCertificate = nil }, "no certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good.Clone()
			c.modify(cfg)
			s, err := New(tc.fake.join("x"), Config{Addr: "127.0.0.1:0", TLS: cfg})
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %s", err, c.want)
			}
		})
	}
}

// isRefused reports whether err is a refused connection: a member whose
// backoff ended was dialed again.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
