package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/faultnet"
	"github.com/sessionmesh/sessionmesh/internal/testclock"
	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

// TestWebCommitFindEverywhere: a session committed on one member is found on
// every member at once, held by exactly its Replicas owners.
func TestWebCommitFindEverywhere(t *testing.T) {
	tc := newTestCluster(t, 4)
	exp := tc.clock.Now().Add(time.Hour)
	for i, s := range tc.stores {
		key := fmt.Sprint("session-", i)
		if err := s.WebSessions().Commit(ctx(t), key, []byte("cart of "+key), exp); err != nil {
			t.Fatal(err)
		}
		for j, r := range tc.stores {
			v, ok, err := r.WebSessions().Find(ctx(t), key)
			if err != nil || !ok || string(v) != "cart of "+key {
				t.Errorf("node %d reads node %d's session: %q %v %v", j, i, v, ok, err)
			}
		}
		holders := 0
		for _, r := range tc.stores {
			if _, _, ok := r.web.mem.peek(key, tc.clock.Now()); ok {
				holders++
			}
		}
		if holders != 2 {
			t.Errorf("%s is held by %d members, want 2", key, holders)
		}
	}
}

// TestWebLookupExpiry: Lookup returns the expiry the last Commit gave, on
// every member, and nothing once the session expired or was deleted.
func TestWebLookupExpiry(t *testing.T) {
	tc := newTestCluster(t, 3)
	w := tc.stores[0].WebSessions()
	for _, ttl := range []time.Duration{time.Hour, 90 * time.Second} {
		exp := tc.clock.Now().Add(ttl)
		if err := w.Commit(ctx(t), "ttl", []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		for i, s := range tc.stores {
			v, got, ok, err := s.WebSessions().Lookup(ctx(t), "ttl")
			if err != nil || !ok || string(v) != "v" || !got.Equal(exp) {
				t.Errorf("member %d: Lookup = %q %v %v %v, want expiry %v", i, v, got, ok, err, exp)
			}
		}
	}
	tc.clock.Advance(91 * time.Second)
	if _, exp, ok, err := tc.stores[1].WebSessions().Lookup(ctx(t), "ttl"); ok || err != nil || !exp.IsZero() {
		t.Errorf("expired session: %v %v %v", exp, ok, err)
	}
	if err := w.Commit(ctx(t), "gone", []byte("v"), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := w.Delete(ctx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := tc.stores[2].WebSessions().Lookup(ctx(t), "gone"); ok || err != nil {
		t.Errorf("deleted session: %v %v", ok, err)
	}
}

// TestWebOneValue: members writing one session at once, many times, leave
// one value everywhere: the one with the greatest version, on every copy.
func TestWebOneValue(t *testing.T) {
	tc := newTestCluster(t, 3)
	exp := tc.clock.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for i, s := range tc.stores {
		wg.Go(func() {
			for j := range 50 {
				if err := s.WebSessions().Commit(ctx(t), "shared", []byte(fmt.Sprintf("%d/%d", i, j)), exp); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var want []byte
	for _, s := range tc.stores {
		v, ok, err := s.WebSessions().Find(ctx(t), "shared")
		if err != nil || !ok {
			t.Fatalf("Find: %v %v", ok, err)
		}
		if want == nil {
			want = v
		} else if !bytes.Equal(v, want) {
			t.Errorf("members read %q and %q", want, v)
		}
	}
	var versions []version
	for _, s := range tc.stores {
		if held, _, ok := s.web.mem.peek("shared", tc.clock.Now()); ok {
			e, _ := decodeEntry(held)
			versions = append(versions, e.version)
			if !bytes.Equal(e.value, want) {
				t.Errorf("%s holds %q, not %q", s.self, e.value, want)
			}
		}
	}
	if len(versions) != 2 || versions[0] != versions[1] {
		t.Errorf("copies at versions %v", versions)
	}
}

// TestWebDeleteSticks: after a Delete, an old copy offered by a member that
// missed it (a replica that was partitioned away, a rebalance, a repair)
// does not bring the session back, on any member.
func TestWebDeleteSticks(t *testing.T) {
	tc := newTestCluster(t, 3)
	exp := tc.clock.Now().Add(time.Hour)
	web := tc.stores[0].WebSessions()
	if err := web.Commit(ctx(t), "login", []byte("user 42"), exp); err != nil {
		t.Fatal(err)
	}
	held, _, ok := tc.storeOwning("login").web.mem.peek("login", tc.clock.Now())
	if !ok {
		t.Fatal("the owner does not hold the session")
	}
	old := bytes.Clone(held)
	if err := web.Delete(ctx(t), "login"); err != nil {
		t.Fatal(err)
	}
	// Every member is offered the old copy. The owners keep their
	// tombstone; a member that holds nothing takes it, as a stray, and hands
	// it to the owners, who refuse it, so it drops it.
	owners := tc.stores[0].view.Load().ring.Owners("login", 2)
	for _, s := range tc.stores {
		s.servePeer(&peer.Request{Op: peer.OpWebPut, Key: "login", Value: old})
	}
	for _, o := range owners {
		if e, _ := decodeEntry(mustPeek(t, tc.storeNamed(o), "login")); !e.deleted {
			t.Errorf("owner %s took the old copy over the tombstone", o)
		}
	}
	for _, s := range tc.stores {
		waitFor(t, func() bool {
			held, _, ok := s.web.mem.peek("login", tc.clock.Now())
			e, _ := decodeEntry(held)
			return !ok || e.deleted
		})
	}
	for _, s := range tc.stores {
		if _, found, err := s.WebSessions().Find(ctx(t), "login"); err != nil || found {
			t.Errorf("%s finds the deleted session: %v %v", s.self, found, err)
		}
	}
	// The tombstone lasts until the session would have expired, and longer.
	e, _ := decodeEntry(mustPeek(t, tc.storeOwning("login"), "login"))
	if !e.deleted || e.expires.Before(exp.Add(tombstoneMargin)) {
		t.Errorf("tombstone %+v, want it deleted and kept past %v", e, exp.Add(tombstoneMargin))
	}
}

// TestWebTooLarge: a value over MaxWebValue is refused with an error, never
// stored cut short.
func TestWebTooLarge(t *testing.T) {
	tc := newTestCluster(t, 2)
	err := tc.stores[0].WebSessions().Commit(ctx(t), "big", make([]byte, MaxWebValue+1), tc.clock.Now().Add(time.Hour))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Commit of %d bytes: %v", MaxWebValue+1, err)
	}
	if err := tc.stores[0].WebSessions().Commit(ctx(t), "big", make([]byte, MaxWebValue), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Errorf("Commit of %d bytes: %v", MaxWebValue, err)
	}
}

// TestWebCrashKeepsAcknowledged: a session whose Commit returned survives the
// crash of any one member.
func TestWebCrashKeepsAcknowledged(t *testing.T) {
	for victim := range 3 {
		t.Run(strconv.Itoa(victim), func(t *testing.T) {
			tc := newTestCluster(t, 3)
			exp := tc.clock.Now().Add(time.Hour)
			for i := range 30 {
				if err := tc.stores[i%3].WebSessions().Commit(ctx(t), fmt.Sprint("k", i), []byte(fmt.Sprint("v", i)), exp); err != nil {
					t.Fatal(err)
				}
			}
			tc.stores[victim].Close()
			tc.fake.remove(tc.stores[victim].self)
			reader := tc.stores[(victim+1)%3]
			for i := range 30 {
				v, ok, err := reader.WebSessions().Find(ctx(t), fmt.Sprint("k", i))
				if err != nil || !ok || string(v) != fmt.Sprint("v", i) {
					t.Errorf("k%d after the crash: %q %v %v", i, v, ok, err)
				}
			}
		})
	}
}

// TestWebPartitionedReplica: a write made while one owner was out of reach
// goes to the next member instead; when the owner is back with its old
// copy, reads still see the newest, and repair the owner's copy.
func TestWebPartitionedReplica(t *testing.T) {
	fn := faultnet.New()
	tc := &testCluster{fake: newFakeCluster(), secret: cluster.NewSecret(), clock: testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))}
	for i := range 3 {
		name := fmt.Sprint("node-", i)
		tc.add(t, name, tc.secret, func(c *Config) {
			c.Addr = fn.Add(name) + ":0"
			c.Dial = DialFunc(fn.Dialer(name))
		})
	}
	tc.waitRing(t, 3)
	exp := tc.clock.Now().Add(time.Hour)
	key := "login"
	owners := tc.stores[0].view.Load().ring.Owners(key, 3) // owner, replica, stand-in
	byName := func(n string) *Store { return tc.storeNamed(n) }
	if err := byName(owners[0]).WebSessions().Commit(ctx(t), key, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	// The replica falls out of reach, while every view still lists it.
	fn.Partition([]string{owners[1]}, []string{owners[0], owners[2]})
	if err := byName(owners[0]).WebSessions().Commit(ctx(t), key, []byte("v2"), exp); err != nil {
		t.Fatalf("Commit with an owner out of reach: %v", err)
	}
	if _, _, ok := byName(owners[2]).web.mem.peek(key, tc.clock.Now()); !ok {
		t.Error("the stand-in member did not take the write")
	}
	fn.Heal()
	for _, s := range tc.stores {
		waitFor(t, func() bool {
			v, ok, err := s.WebSessions().Find(ctx(t), key)
			return err == nil && ok && string(v) == "v2"
		})
	}
	waitFor(t, func() bool { // the replica's copy was repaired
		e, err := decodeEntry(mustPeek(t, byName(owners[1]), key))
		return err == nil && string(e.value) == "v2"
	})
}

// TestWebBudgetApart: TLS sessions filling their budget many times over push
// out no web session.
func TestWebBudgetApart(t *testing.T) {
	tc := newTestCluster(t, 1, func(c *Config) { c.MaxBytes = 50 * Cost(IDLen, 100) })
	s := tc.stores[0]
	exp := tc.clock.Now().Add(time.Hour)
	for i := range 20 {
		if err := s.WebSessions().Commit(ctx(t), fmt.Sprint("user", i), bytes.Repeat([]byte("x"), 2000), exp); err != nil {
			t.Fatal(err)
		}
	}
	for range 5000 {
		if err := s.Put(ctx(t), s.NewID(), tc.record("a TLS session")); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Evictions < 4000 || st.WebEvictions != 0 {
		t.Errorf("TLS evictions %d, web evictions %d", st.Evictions, st.WebEvictions)
	}
	for i := range 20 {
		if _, ok, err := s.WebSessions().Find(ctx(t), fmt.Sprint("user", i)); err != nil || !ok {
			t.Errorf("user%d's session: %v %v", i, ok, err)
		}
	}
}

func mustPeek(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	held, _, ok := s.web.mem.peek(key, s.cfg.Now())
	if !ok {
		t.Fatalf("%s holds no %s", s.self, key)
	}
	return held
}

// storeOwning returns the store that owns key on the first store's ring.
func (tc *testCluster) storeOwning(key string) *Store {
	return tc.storeNamed(tc.stores[0].view.Load().ring.Owner(key))
}

// newFaultCluster starts n stores whose data channels run over a faultnet
// network, so that tests can cut members off while every view keeps them.
func newFaultCluster(t *testing.T, n int, opts ...func(*Config)) (*testCluster, *faultnet.Network) {
	fn := faultnet.New()
	tc := &testCluster{fake: newFakeCluster(), secret: cluster.NewSecret(), clock: testclock.New(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))}
	for i := range n {
		name := fmt.Sprint("node-", i)
		tc.add(t, name, tc.secret, append(opts, func(c *Config) {
			c.Addr = fn.Add(name) + ":0"
			c.Dial = DialFunc(fn.Dialer(name))
		})...)
	}
	tc.waitRing(t, n)
	return tc, fn
}

// TestWebStandInHandsOver: with one copy, a write made while the key's owner
// is out of reach lands on a stand-in, which hands it to the owner as soon
// as the owner is back (not after its retries' backoff) and then drops its
// own copy. (The churn simulation found stand-ins keeping theirs for good.)
func TestWebStandInHandsOver(t *testing.T) {
	tc, fn := newFaultCluster(t, 3, singleCopy, func(c *Config) { c.retryBase = time.Hour })
	key := "login"
	pref := tc.stores[0].view.Load().ring.Owners(key, 3)
	owner, standIn := tc.storeNamed(pref[0]), tc.storeNamed(pref[1])
	fn.Partition([]string{pref[0]}, pref[1:])
	if err := standIn.WebSessions().Commit(ctx(t), key, []byte("v1"), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Commit with the owner out of reach: %v", err)
	}
	mustPeek(t, standIn, key)
	fn.Heal()
	// The first request that reaches the owner again tells the stand-in it
	// is back; with retries an hour apart, only that sends the copy now.
	other := ownedBy(owner, "other")
	waitFor(t, func() bool {
		_, _, err := standIn.WebSessions().Find(ctx(t), other)
		return err == nil
	})
	waitFor(t, func() bool {
		_, _, onOwner := owner.web.mem.peek(key, tc.clock.Now())
		_, _, onStandIn := standIn.web.mem.peek(key, tc.clock.Now())
		return onOwner && !onStandIn
	})
	v, ok, err := tc.stores[2].WebSessions().Find(ctx(t), key)
	if err != nil || !ok || string(v) != "v1" {
		t.Errorf("Find after the hand-over: %q %v %v", v, ok, err)
	}
}

// TestCopyOwedByCrashedMember: a copy that one owner failed to make (the
// other owner was out of reach) and was still to retry when it crashed is
// made by the owners that remain. (Found by the churn simulation: without
// it, the record stayed one copy short for good.)
func TestCopyOwedByCrashedMember(t *testing.T) {
	tc, fn := newFaultCluster(t, 3, func(c *Config) { c.Replicas = 3; c.retryBase = time.Hour })
	a, b, c := tc.stores[0], tc.stores[1], tc.stores[2]
	fn.Partition([]string{b.self}, []string{a.self, c.self})
	id := a.NewID()
	if err := a.Put(ctx(t), id, tc.record("owed")); err != nil {
		t.Fatal(err)
	}
	key := ownedBy(a, "cart") // so that a coordinates its writes
	if err := a.WebSessions().Commit(ctx(t), key, []byte("owed"), tc.clock.Now().Add(time.Hour)); err == nil {
		t.Fatal("a write that reached 2 of 3 members returned nil")
	}
	waitFor(t, func() bool { // c has its copies; b's wait in a's retries
		_, _, tlsOK := c.tls.mem.peek(id, tc.clock.Now())
		_, _, webOK := c.web.mem.peek(key, tc.clock.Now())
		return tlsOK && webOK && a.Stats().CopiesRetrying == 2
	})
	a.Close()
	fn.Heal()
	tc.fake.remove(a.self)
	waitFor(t, func() bool { return c.Stats().RingNodes == 2 })
	// c has b's copies to make now; they go as soon as c reaches b (b was
	// out of its reach, so they may wait for that).
	waitFor(t, func() bool {
		_, err := c.view.Load().clients[b.self].Do(ctx(t), &peer.Request{Op: peer.OpWebGet, Key: "anything"})
		return err == nil
	})
	waitFor(t, func() bool {
		_, _, tlsOK := b.tls.mem.peek(id, tc.clock.Now())
		_, _, webOK := b.web.mem.peek(key, tc.clock.Now())
		return tlsOK && webOK
	})
}

// TestWebCopyFromOtherRing: an owner that already holds a web session's
// copy, sent it again by a member placing it by another ring, makes sure the
// owners on its own ring have it too. (Found by the churn simulation: a
// member that alone had heard of a newcomer handed the session to it and
// dropped its own copy; the newcomer crashed, the member was an owner again
// without the copy, and the owner that had it, never having seen the
// newcomer, took the copy as one it held already and told nobody.)
func TestWebCopyFromOtherRing(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.retryBase = 10 * time.Millisecond })
	// The joins' rebalances are over: none of them sends the copy below.
	waitFor(t, notMoving(tc.stores...))
	key := "cart"
	owners := tc.stores[0].view.Load().ring.Owners(key, 2)
	holder, lacking := tc.storeNamed(owners[0]), tc.storeNamed(owners[1])
	if err := holder.WebSessions().Commit(ctx(t), key, []byte("v1"), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	val := mustPeek(t, holder, key)
	lacking.web.mem.delete(key) // handed on and dropped, as above
	var sender *Store
	for _, s := range tc.stores {
		if s != holder && s != lacking {
			sender = s
		}
	}
	resp, err := sender.view.Load().clients[holder.self].Do(ctx(t), &peer.Request{Op: peer.OpWebPut, Key: key, Value: val, Ring: 42})
	if err != nil || resp.Status != peer.StatusNewer {
		t.Fatalf("the copy again: %v %v, want it refused as not newer", resp.Status, err)
	}
	waitFor(t, func() bool {
		_, _, ok := lacking.web.mem.peek(key, tc.clock.Now())
		return ok
	})
}

// TestWebStandInKeepsNoTombstone: a member asked to coordinate a Commit
// of a key it does not own (by a member whose view differs), which finds
// the session deleted, stores the tombstone it learns of and drops it once
// the owners have it, as it would a write. (Found by the churn simulation:
// the tombstone stayed on the stand-in for good.)
func TestWebStandInKeepsNoTombstone(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.retryBase = 10 * time.Millisecond })
	waitFor(t, notMoving(tc.stores...))
	key := "cart"
	pref := tc.stores[0].view.Load().ring.Owners(key, 3)
	owner, standIn := tc.storeNamed(pref[0]), tc.storeNamed(pref[2])
	exp := tc.clock.Now().Add(time.Hour)
	if err := owner.WebSessions().Commit(ctx(t), key, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	if err := owner.WebSessions().Delete(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	c := change{value: []byte("v2"), expires: exp}
	resp, err := owner.view.Load().clients[standIn.self].Do(ctx(t), &peer.Request{Op: peer.OpWebCommit, Key: key, Value: c.encode()})
	if err != nil || resp.Status != peer.StatusNewer {
		t.Fatalf("a Commit after the Delete, coordinated by a stand-in: %v %v, want it refused (deleted)", resp.Status, err)
	}
	waitFor(t, func() bool {
		_, _, ok := standIn.web.mem.peek(key, tc.clock.Now())
		return !ok
	})
	for _, o := range pref[:2] {
		if stateOf(mustPeek(t, tc.storeNamed(o), key)) != "" {
			t.Errorf("owner %s does not hold the tombstone", o)
		}
	}
}

// TestWebRefusedWriteLeavesNoValue: a Commit after a Delete whose
// coordinator had no copy reaches a member that has none either before
// another turns it down with the tombstone; by the time the caller hears
// ErrDeleted, that member holds the tombstone, not the refused value. (Found
// by the churn simulation: the tombstone followed in the background, a
// partition came first, and a Find on the member's side of it read the
// logged-out session back.)
func TestWebRefusedWriteLeavesNoValue(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *Config) { c.Replicas = 3 })
	// The coordinator, a member that does not own the key, sends nothing
	// in the background: what it sends, it sends before it answers.
	coordinator := tc.add(t, "node-3", tc.secret, func(c *Config) { c.Replicas = 3; c.copiersOff = true; c.retryBase = time.Hour })
	tc.waitRing(t, 4)
	key := "cart"
	for i := 0; slices.Contains(coordinator.view.Load().placement(key), coordinator.self); i++ {
		key = fmt.Sprint("cart", i)
	}
	waitFor(t, notMoving(tc.stores...))
	pref := tc.stores[0].view.Load().ring.Owners(key, 4)
	owner, lacking := tc.storeNamed(pref[0]), tc.storeNamed(pref[1])
	exp := tc.clock.Now().Add(time.Hour)
	if err := owner.WebSessions().Commit(ctx(t), key, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	if err := owner.WebSessions().Delete(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	lacking.web.mem.delete(key) // a member new to the key, say
	c := change{value: []byte("v2"), expires: exp}
	resp, err := owner.view.Load().clients[coordinator.self].Do(ctx(t), &peer.Request{Op: peer.OpWebCommit, Key: key, Value: c.encode()})
	if err != nil || resp.Status != peer.StatusNewer {
		t.Fatalf("a Commit after the Delete: %v %v, want it refused (deleted)", resp.Status, err)
	}
	if got := stateOf(mustPeek(t, lacking, key)); got != "" {
		t.Errorf("%s holds %q when the Commit is refused, want the tombstone", lacking.self, got)
	}
}

// TestWebBeforeRing: until a store has read the membership it cannot tell
// who holds a web session, and says so rather than report it missing or
// acknowledge a write that reached only itself.
func TestWebBeforeRing(t *testing.T) {
	tc := newTestCluster(t, 2)
	tlsConf, err := cluster.PeerTLSConfig("node-2", tc.secret)
	if err != nil {
		t.Fatal(err)
	}
	g := gatedMembership{tc.fake.join("node-2"), make(chan struct{})}
	s, err := New(g, Config{Addr: "127.0.0.1:0", TLS: tlsConf, Now: tc.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, _, err := s.WebSessions().Find(ctx(t), "cart"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Find before the ring: %v, want ErrUnavailable", err)
	}
	if err := s.WebSessions().Commit(ctx(t), "cart", []byte("v1"), tc.clock.Now().Add(time.Hour)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Commit before the ring: %v, want ErrUnavailable", err)
	}
	close(g.gate)
	waitFor(t, func() bool { return s.Stats().RingNodes == 3 })
	if err := s.WebSessions().Commit(ctx(t), "cart", []byte("v1"), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Errorf("Commit once the ring is built: %v", err)
	}
}

// ownedBy returns a key that s owns, prefix and a number.
func ownedBy(s *Store, prefix string) string {
	for i := 0; ; i++ {
		if key := fmt.Sprint(prefix, i); s.view.Load().ring.Owner(key) == s.self {
			return key
		}
	}
}

// TestWebMixedVersions: in a cluster upgraded one member at a time, a member
// of a version before web sessions answers none of their requests; the
// others pass it by, as if it were down, and web sessions work among them:
// written, found, deleted, and unknown ones reported missing (not an error),
// even those whose owners are all older members.
func TestWebMixedVersions(t *testing.T) {
	tc := newTestCluster(t, 2)
	webless := func(c *Config) { c.webless = true }
	olds := []*Store{tc.add(t, "old-0", tc.secret, webless), tc.add(t, "old-1", tc.secret, webless)}
	tc.waitRing(t, 4)
	exp := tc.clock.Now().Add(time.Hour)
	for i := range 40 {
		key := fmt.Sprint("user", i)
		w, r := tc.stores[i%2], tc.stores[(i+1)%2]
		if err := w.WebSessions().Commit(ctx(t), key, []byte("v"), exp); err != nil {
			t.Fatalf("Commit %s: %v", key, err)
		}
		if v, ok, err := r.WebSessions().Find(ctx(t), key); err != nil || !ok || string(v) != "v" {
			t.Fatalf("Find %s: %q %v %v", key, v, ok, err)
		}
		if err := r.WebSessions().Delete(ctx(t), key); err != nil {
			t.Fatalf("Delete %s: %v", key, err)
		}
		if _, ok, err := w.WebSessions().Find(ctx(t), key); err != nil || ok {
			t.Fatalf("Find %s after Delete: %v %v", key, ok, err)
		}
		if _, ok, err := w.WebSessions().Find(ctx(t), "never-"+key); err != nil || ok {
			t.Fatalf("Find of a session never written: %v %v", ok, err)
		}
	}
	for _, old := range olds {
		if n := old.Stats().WebSessions; n != 0 {
			t.Errorf("an older member holds %d web sessions", n)
		}
	}
}

// TestWebRepairOwnersOnly: a Find that asks a stand-in in place of an owner
// out of reach repairs no copy onto the stand-in, which would keep it for
// good. (Found by the churn simulation.)
func TestWebRepairOwnersOnly(t *testing.T) {
	tc, fn := newFaultCluster(t, 3)
	key := "cart"
	pref := tc.stores[0].view.Load().ring.Owners(key, 3)
	if err := tc.storeNamed(pref[0]).WebSessions().Commit(ctx(t), key, []byte("v1"), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	fn.Partition([]string{pref[1]}, []string{pref[0], pref[2]})
	standIn := tc.storeNamed(pref[2])
	if v, ok, err := standIn.WebSessions().Find(ctx(t), key); err != nil || !ok || string(v) != "v1" {
		t.Fatalf("Find on the stand-in: %q %v %v", v, ok, err)
	}
	if _, _, ok := standIn.web.mem.peek(key, tc.clock.Now()); ok {
		t.Error("the read repaired a copy onto the stand-in")
	}
}

// TestWebContextEnded: a call whose caller gave up says so (errors.Is
// context.Canceled), and is not counted as the cluster's error.
func TestWebContextEnded(t *testing.T) {
	tc := newTestCluster(t, 1)
	s := tc.stores[0]
	web := s.WebSessions()
	if err := web.Commit(ctx(t), "k1", []byte("v"), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := web.Find(gone, "k1")
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "%!") {
		t.Errorf("Find with a canceled context: %v", err)
	}
	if err := web.Commit(gone, "k1", []byte("v2"), tc.clock.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a canceled context: %v", err)
	}
	if n := s.Stats().WebErrors; n != 0 {
		t.Errorf("%d web errors counted for calls their callers gave up on", n)
	}
}

// TestWebTombstoneOutlivesCutOffWrite: a write that reached only a member cut
// off from the others (it failed) is newer than the copies the Delete's
// coordinator saw, and lives longer: once the cut heals and the write is
// handed on, the tombstone must still be there to refuse it. (Found by the
// churn simulation: the tombstone lived only as long as the copy its
// coordinator held, and the deleted session came back.)
func TestWebTombstoneOutlivesCutOffWrite(t *testing.T) {
	tc, fn := newFaultCluster(t, 3, func(c *Config) { c.retryBase = 10 * time.Millisecond })
	key := "cart"
	pref := tc.stores[0].view.Load().ring.Owners(key, 3)
	owner, replica, other := tc.storeNamed(pref[0]), tc.storeNamed(pref[1]), tc.storeNamed(pref[2])
	if err := owner.WebSessions().Commit(ctx(t), key, []byte("v1"), tc.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(30 * time.Minute)
	fn.Partition([]string{pref[0]}, []string{pref[1], pref[2]})
	if err := owner.WebSessions().Commit(ctx(t), key, []byte("v2"), tc.clock.Now().Add(time.Hour)); err == nil {
		t.Fatal("a write cut off from every other member succeeded")
	}
	tc.clock.Advance(time.Minute) // the user logs out a minute later, on the other side
	if err := replica.WebSessions().Delete(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(35 * time.Minute) // v1 and a minute more have passed; v2 has not
	fn.Heal()
	// The owner hands v2 on to the replica, which must refuse it and send
	// back its tombstone, newer, for the owner to keep.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if held, _, ok := owner.web.mem.peek(key, tc.clock.Now()); ok && stateOf(held) == "" {
			break // the tombstone
		}
		if time.Now().After(deadline) {
			held, _, _ := replica.web.mem.peek(key, tc.clock.Now())
			t.Fatalf("the owner still holds the cut-off write; the replica holds %q", stateOf(held))
		}
	}
	for _, s := range []*Store{owner, replica, other} {
		// Peers that failed during the cut are skipped for a moment after
		// it: a read that cannot ask enough of them says so.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			v, ok, err := s.WebSessions().Find(ctx(t), key)
			if errors.Is(err, ErrUnavailable) && time.Now().Before(deadline) {
				continue
			}
			if err != nil || ok {
				t.Errorf("Find on %s after the delete: %q %v %v, want nothing", s.self, v, ok, err)
			}
			break
		}
	}
}

// TestWebDeleteIsFinal: a write of a session that was deleted after the
// writer read it (a request racing a logout, or an attacker replaying an
// old cookie at a member that missed the logout) fails with ErrDeleted and
// brings nothing back, even through a coordinator that never saw the delete
// and versions its write above the tombstone. Set, a Redis SET after DEL,
// writes over it.
func TestWebDeleteIsFinal(t *testing.T) {
	tc, fn := newFaultCluster(t, 3)
	key := "cart"
	pref := tc.stores[0].view.Load().ring.Owners(key, 3)
	owner, replica, other := tc.storeNamed(pref[0]), tc.storeNamed(pref[1]), tc.storeNamed(pref[2])
	exp := tc.clock.Now().Add(time.Hour)
	if err := owner.WebSessions().Commit(ctx(t), key, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	// The owner misses the delete: the replica and the next member hold it.
	fn.Partition([]string{pref[0]}, []string{pref[1], pref[2]})
	if err := replica.WebSessions().Delete(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	fn.Heal()
	tc.clock.Advance(time.Minute) // the owner's write gets a version above the tombstone's
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := owner.WebSessions().Commit(ctx(t), key, []byte("v1, written back"), exp)
		if errors.Is(err, ErrUnavailable) && time.Now().Before(deadline) {
			continue // peers that failed during the cut are skipped for a moment
		}
		if !errors.Is(err, ErrDeleted) {
			t.Fatalf("a write over the delete: %v, want ErrDeleted", err)
		}
		break
	}
	if s := owner.Stats(); s.WebErrors != 0 {
		t.Errorf("a write over a delete counted as %d cluster errors", s.WebErrors)
	}
	for _, s := range []*Store{owner, replica, other} {
		if v, ok, err := s.WebSessions().Find(ctx(t), key); err != nil || ok {
			t.Errorf("Find on %s: %q %v %v, want nothing", s.self, v, ok, err)
		}
	}
	if err := other.WebSessions().Commit(ctx(t), key, []byte("v2"), exp); !errors.Is(err, ErrDeleted) {
		t.Errorf("a write through another member: %v, want ErrDeleted", err)
	}
	if err := other.WebSessions().Set(ctx(t), key, []byte("v3"), exp); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{owner, replica, other} {
		if v, ok, err := s.WebSessions().Find(ctx(t), key); err != nil || string(v) != "v3" {
			t.Errorf("Find on %s after Set: %q %v %v, want v3", s.self, v, ok, err)
		}
	}
	if err := owner.WebSessions().Commit(ctx(t), key, []byte("v4"), exp); err != nil {
		t.Errorf("a write of the recreated session: %v", err)
	}
}

// TestSupersedes: a tombstone replaces any copy of what it deleted and is
// replaced only by a newer recreation; otherwise the newer version wins.
func TestSupersedes(t *testing.T) {
	v := func(n uint64) version { return version{counter: n, writer: 1} }
	live := func(n uint64) entry { return entry{version: v(n), value: []byte("x")} }
	tomb := func(n uint64) entry { return entry{version: v(n), deleted: true} }
	recreated := func(n uint64) entry { return entry{version: v(n), value: []byte("y"), recreated: true} }
	tests := []struct {
		name string
		e, o entry
		want bool
	}{
		{"newer live over live", live(2), live(1), true},
		{"older live over live", live(1), live(2), false},
		{"tombstone over newer live", tomb(1), live(2), true},
		{"newer live over tombstone", live(3), tomb(2), false},
		{"newer recreation over tombstone", recreated(3), tomb(2), true},
		{"older recreation over tombstone", recreated(1), tomb(2), false},
		{"tombstone over older recreation", tomb(3), recreated(2), true},
		{"tombstone over newer recreation", tomb(1), recreated(2), false},
		{"newer tombstone over tombstone", tomb(2), tomb(1), true},
	}
	for _, tt := range tests {
		if got := tt.e.supersedes(tt.o); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
		// An entry survives its encoding, recreated flag included.
		if d, err := decodeEntry(tt.e.encode()); err != nil || d.recreated != tt.e.recreated || d.deleted != tt.e.deleted {
			t.Errorf("%s: decoded %+v %v", tt.name, d, err)
		}
	}
}
