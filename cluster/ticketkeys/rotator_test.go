package ticketkeys

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
	"github.com/sessionmesh/sessionmesh/internal/testclock"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const (
	rotation = time.Hour
	staging  = time.Minute
	lifetime = 4 * time.Hour
)

type testCluster struct {
	t     *testing.T
	net   *fakeNet
	clock *testclock.Clock
	nodes map[string]*Rotator
	logs  *bytes.Buffer
	ss    *tls.SessionState
}

// newTestCluster starts rotators on a fake network, the first-named oldest.
// The schedule runs only when the test calls step: time is the test's.
func newTestCluster(t *testing.T, names ...string) *testCluster {
	tc := &testCluster{
		t: t, net: newFakeNet(), clock: testclock.New(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)),
		nodes: make(map[string]*Rotator), logs: new(bytes.Buffer), ss: sessionState(t),
	}
	for _, name := range names {
		tc.add(name, Config{})
	}
	return tc
}

func (tc *testCluster) add(name string, cfg Config) *Rotator {
	tc.t.Helper()
	cfg.Rotation, cfg.Staging, cfg.Lifetime = rotation, staging, lifetime
	cfg.CheckInterval = time.Hour // never: the test steps
	cfg.Now = tc.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(syncWriter{tc.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	started := tc.clock.Now().Add(time.Duration(len(tc.nodes)) * time.Second)
	r, err := New(tc.net.add(name, started), cfg)
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.t.Cleanup(func() { r.Close() })
	tc.nodes[name] = r
	return r
}

// step checks every node's schedule, twice: once to act, once to see what
// the others advertised.
func (tc *testCluster) step() {
	for range 2 {
		for _, r := range tc.nodes {
			r.step()
		}
	}
}

func (tc *testCluster) seal(name string) []byte {
	tc.t.Helper()
	t, err := tc.nodes[name].Seal(tls.ConnectionState{}, tc.ss)
	if err != nil {
		tc.t.Fatalf("%s: Seal: %v", name, err)
	}
	return t
}

func (tc *testCluster) opens(name string, ticket []byte) error {
	ss, err := tc.nodes[name].Open(ticket, tls.ConnectionState{})
	if err == nil && ss == nil {
		return errors.New("Open returned neither a session nor an error")
	}
	return err
}

// current returns the ID of the key each node encrypts with.
func (tc *testCluster) current() map[string]uint64 {
	out := make(map[string]uint64)
	for name, r := range tc.nodes {
		for _, k := range r.Keys() {
			if k.State == Active {
				out[name] = k.ID
			}
		}
	}
	return out
}

func (tc *testCluster) sameKeys(names ...string) bool {
	var want string
	for i, n := range names {
		r := tc.nodes[n]
		r.mu.Lock()
		d := r.set.digest()
		r.mu.Unlock()
		if i == 0 {
			want = d
		} else if d != want {
			return false
		}
	}
	return true
}

// TestRotationThroughTheCluster: the oldest node generates; every node gets
// the key; a ticket made before a rotation opens on every node after it, for
// its lifetime and not after.
func TestRotationThroughTheCluster(t *testing.T) {
	tc := newTestCluster(t, "a", "b", "c")
	tc.step()
	first := tc.current()
	if len(first) != 3 || first["a"] != first["b"] || first["b"] != first["c"] {
		t.Fatalf("encrypting keys %v, want one key everywhere", first)
	}
	if g := tc.nodes["a"].Generated() + tc.nodes["b"].Generated() + tc.nodes["c"].Generated(); g != 1 || tc.nodes["a"].Generated() != 1 {
		t.Fatalf("generated %d keys, want 1, by the oldest node", g)
	}
	old := tc.seal("b")

	tc.clock.Advance(rotation)
	tc.step()
	if now := tc.current(); now["a"] != first["a"] {
		t.Fatal("a new key encrypted before staging passed")
	}
	tc.clock.Advance(staging)
	tc.step()
	second := tc.current()
	if second["a"] == first["a"] || second["a"] != second["b"] || second["b"] != second["c"] {
		t.Fatalf("after staging: %v", second)
	}
	for name := range tc.nodes {
		if err := tc.opens(name, old); err != nil {
			t.Errorf("%s cannot open a ticket from before the rotation: %v", name, err)
		}
	}
	// Keep rotating; the old ticket's key is dropped once no ticket it made
	// can be valid: a rotation plus a lifetime plus staging after it started.
	for range 6 {
		tc.clock.Advance(rotation)
		tc.step()
		tc.clock.Advance(staging)
		tc.step()
	}
	for name := range tc.nodes {
		if err := tc.opens(name, old); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s after the old key's time: %v, want ErrUnknownKey", name, err)
		}
		if n := len(tc.nodes[name].Keys()); n > int(lifetime/rotation)+3 {
			t.Errorf("%s holds %d keys", name, n)
		}
	}
}

// TestNewKeyWaitsForEveryone: while one live member lacks the new key, nobody
// encrypts with it, however long past staging; once it has it, all switch.
func TestNewKeyWaitsForEveryone(t *testing.T) {
	tc := newTestCluster(t, "a", "b", "c")
	tc.step()
	first := tc.current()["a"]
	tc.net.dropped["c"] = true // c misses gossip broadcasts
	tc.clock.Advance(rotation)
	tc.step()
	tc.clock.Advance(10 * staging)
	tc.step()
	for name, id := range tc.current() {
		if id != first {
			t.Errorf("%s switched keys while c could not decrypt the new one", name)
		}
	}
	tc.net.pushPull() // anti-entropy brings c up to date
	tc.step()
	now := tc.current()
	if now["a"] == first || now["a"] != now["b"] || now["b"] != now["c"] {
		t.Errorf("after push/pull: %v", now)
	}
}

// TestJoinerOpensOldTickets: a node that joins after a ticket was made opens it.
func TestJoinerOpensOldTickets(t *testing.T) {
	tc := newTestCluster(t, "a", "b")
	tc.step()
	ticket := tc.seal("a")
	tc.clock.Advance(rotation + staging)
	tc.step()
	tc.add("late", Config{})
	tc.net.pushPull() // what memberlist's join does
	if err := tc.opens("late", ticket); err != nil {
		t.Fatalf("a joining node cannot open an older ticket: %v", err)
	}
	if tc.nodes["late"].Generated() != 0 {
		t.Error("the joining node generated a key")
	}
}

// TestPartitionHeals: two sides rotate on their own, then heal; everyone
// ends with one key set, one encrypting key, and every ticket made on either
// side still opens everywhere.
func TestPartitionHeals(t *testing.T) {
	tc := newTestCluster(t, "a", "b", "c", "d", "e")
	tc.step()
	tc.net.partition(1, "d", "e")
	var tickets [][]byte
	for range 3 {
		tc.clock.Advance(rotation)
		tc.step()
		tc.clock.Advance(staging)
		tc.step()
		tickets = append(tickets, tc.seal("a"), tc.seal("d"))
	}
	if tc.current()["a"] == tc.current()["d"] {
		t.Fatal("the two sides did not rotate independently")
	}
	if tc.nodes["d"].Generated() == 0 {
		t.Fatal("the minority side generated no keys")
	}
	tc.net.heal()
	tc.net.pushPull()
	tc.step()
	if !tc.sameKeys("a", "b", "c", "d", "e") {
		t.Fatal("key sets differ after healing")
	}
	cur := tc.current()
	for name, id := range cur {
		if id != cur["a"] {
			t.Errorf("%s encrypts with %x, a with %x", name, id, cur["a"])
		}
	}
	for i, ticket := range tickets {
		for name := range tc.nodes {
			if err := tc.opens(name, ticket); err != nil {
				t.Errorf("ticket %d from the %s side on %s: %v", i, []string{"majority", "minority"}[i%2], name, err)
			}
		}
	}
	// Only the oldest node of the healed cluster generates from now on.
	before := tc.nodes["d"].Generated()
	tc.clock.Advance(rotation)
	tc.step()
	if tc.nodes["d"].Generated() != before {
		t.Error("d still generates after the heal")
	}
}

// TestGeneratorFailover: when the oldest node dies, the next oldest takes over.
func TestGeneratorFailover(t *testing.T) {
	tc := newTestCluster(t, "a", "b", "c")
	tc.step()
	tc.net.remove("a")
	tc.nodes["a"].Close()
	delete(tc.nodes, "a")
	tc.clock.Advance(rotation)
	tc.step()
	if tc.nodes["b"].Generated() != 1 || tc.nodes["c"].Generated() != 0 {
		t.Errorf("generated: b %d, c %d; want b to take over", tc.nodes["b"].Generated(), tc.nodes["c"].Generated())
	}
}

func TestSeed(t *testing.T) {
	seed := bytes.Repeat([]byte{0}, 32)
	copy(seed, "0123456789abcdefghijklmnopqrstuv") // 32 distinct bytes
	for _, bad := range [][]byte{
		make([]byte, 32),                           // all zero
		bytes.Repeat([]byte{7}, 32),                // one byte
		[]byte("passwordpasswordpasswordpassword"), // text
		seed[:16], // short
	} {
		if _, err := New(newFakeNet().add("x", time.Now()), Config{Seed: bad}); err == nil {
			t.Errorf("seed %q accepted", bad)
		}
	}

	tc := newTestCluster(t)
	a := tc.add("a", Config{Seed: seed})
	b := tc.add("b", Config{Seed: seed})
	// Before any step or gossip, both encrypt with the seed.
	ticket, err := a.Seal(tls.ConnectionState{}, tc.ss)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ticket, tls.ConnectionState{}); err != nil {
		t.Fatalf("a seeded node cannot open another's ticket: %v", err)
	}
	// The first rotation retires the seed; it is dropped a lifetime later.
	tc.step()
	tc.clock.Advance(rotation + staging)
	tc.step()
	if err := tc.opens("b", ticket); err != nil {
		t.Errorf("seed dropped too early: %v", err)
	}
	tc.clock.Advance(lifetime + 2*staging + rotation)
	tc.step()
	if err := tc.opens("b", ticket); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("seed ticket after its lifetime: %v", err)
	}
}

func TestHostileTickets(t *testing.T) {
	tc := newTestCluster(t, "a")
	tc.step()
	good := tc.seal("a")
	flip := bytes.Clone(good)
	flip[len(flip)-1] ^= 1
	otherKey := bytes.Clone(good)
	otherKey[1] ^= 1
	for _, tc2 := range []struct {
		name   string
		ticket []byte
		want   error
	}{
		{"empty", nil, ErrMalformed},
		{"header only", good[:ticketHeader], ErrMalformed},
		{"other version", append([]byte{2}, good[1:]...), ErrMalformed},
		{"tampered", flip, ErrMalformed},
		{"unknown key", otherKey, ErrUnknownKey},
		{"truncated", good[:len(good)-1], ErrMalformed},
	} {
		if err := tc.opens("a", tc2.ticket); !errors.Is(err, tc2.want) {
			t.Errorf("%s: %v, want %v", tc2.name, err, tc2.want)
		}
	}
}

// TestNoKeyMaterialInLogs: keys are logged by ID only.
func TestNoKeyMaterialInLogs(t *testing.T) {
	tc := newTestCluster(t, "a", "b")
	for range 3 {
		tc.step()
		tc.clock.Advance(rotation + staging)
	}
	tc.nodes["a"].Rotate()
	tc.step()
	logs := tc.logs.String()
	if !strings.Contains(logs, "ticket key generated") {
		t.Fatalf("nothing logged:\n%s", logs)
	}
	for _, r := range tc.nodes {
		r.mu.Lock()
		for _, k := range r.set.keys {
			for _, form := range []string{string(k.secret[:]), hex.EncodeToString(k.secret[:]), fmt.Sprint(k.secret)} {
				if strings.Contains(logs, form) {
					t.Errorf("key %x's secret appears in the logs", k.id)
				}
			}
		}
		r.mu.Unlock()
	}
}

// sessionState returns a real server-side session from a TLS handshake.
func sessionState(t *testing.T) *tls.SessionState {
	t.Helper()
	cert, pool, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *tls.SessionState, 1)
	server := &tls.Config{Certificates: []tls.Certificate{cert}}
	server.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		select {
		case got <- ss:
		default:
		}
		return server.EncryptTicket(cs, ss)
	}
	c1, c2 := net.Pipe()
	go func() {
		s := tls.Server(c2, server)
		s.Handshake()
		s.Write([]byte("x"))
		s.Close()
	}()
	// Servers send tickets only to clients that keep sessions.
	cl := tls.Client(c1, &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(1)})
	io.ReadAll(cl)
	cl.Close()
	return <-got
}

type syncWriter struct{ b *bytes.Buffer }

var logMu sync.Mutex

func (w syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.b.Write(p)
}

// TestStalledRotationKeepsTheKey: if no new key can be made, the key in use
// stays in use past its expiry rather than leaving the cluster with none.
func TestStalledRotationKeepsTheKey(t *testing.T) {
	tc := newTestCluster(t, "a")
	tc.step()
	tc.nodes["a"].cfg.Rand = failingReader{}
	tc.clock.Advance(rotation + lifetime + 10*staging)
	tc.step()
	if len(tc.current()) != 1 {
		t.Fatal("no key in use after a stalled rotation")
	}
	ticket := tc.seal("a")
	if err := tc.opens("a", ticket); err != nil {
		t.Fatal(err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no randomness today") }

// TestConfigLimits: a configuration is refused, with a reason, when its
// tickets could not be resumed or its keys could not all travel in one set.
func TestConfigLimits(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string // in the error; "" for a configuration that works
	}{
		{Config{}, ""},
		{Config{Lifetime: MaxLifetime, Rotation: time.Hour}, ""},
		{Config{Lifetime: MaxLifetime + time.Second}, "exceeds"},
		{Config{Rotation: time.Minute, Staging: time.Minute}, "twice Staging"},
		{Config{Lifetime: MaxLifetime, Rotation: 10 * time.Minute}, "keeps 1011 keys"},
	} {
		r, err := New(newFakeNet().add("x", time.Now()), tt.cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v refused: %v", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want one that says %q", tt.cfg, err, tt.want)
		}
		if err == nil {
			if n := keysHeld(r.cfg); n*4 > maxKeys {
				t.Errorf("%+v keeps %d keys; merged sets would not fit in %d", tt.cfg, n, maxKeys)
			}
			r.Close()
		}
	}
	// A set of maxKeys keys decodes; one more is refused.
	keys := make([]*key, maxKeys+1)
	for i := range keys {
		keys[i] = testKey(uint64(i+1), time.Duration(i)*time.Minute)
	}
	if got, err := decodeKeys(encodeKeys(keys[:maxKeys])); err != nil || len(got) != maxKeys {
		t.Errorf("a set of %d keys: %d decoded, %v", maxKeys, len(got), err)
	}
	if _, err := decodeKeys(encodeKeys(keys)); err == nil {
		t.Errorf("a set of %d keys decoded", len(keys))
	}
}

// TestClosedStaysWiped: after Close, keys that gossip brings back (push/pull
// and broadcasts) are dropped, the node advertises nothing, and Seal, Open
// and Rotate fail with ErrClosed; the others go on rotating without it.
func TestClosedStaysWiped(t *testing.T) {
	tc := newTestCluster(t, "a", "b", "c")
	tc.step()
	ticket := tc.seal("a")
	c := tc.nodes["c"]
	c.Close()
	tc.net.pushPull()
	if err := tc.nodes["a"].Rotate(); err != nil {
		t.Fatal(err)
	}
	tc.net.pushPull()
	if _, err := c.Open(ticket, tls.ConnectionState{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close and gossip: %v, want ErrClosed", err)
	}
	if _, err := c.Seal(tls.ConnectionState{}, tc.ss); !errors.Is(err, ErrClosed) {
		t.Errorf("Seal after Close: %v, want ErrClosed", err)
	}
	if err := c.Rotate(); !errors.Is(err, ErrClosed) {
		t.Errorf("Rotate after Close: %v, want ErrClosed", err)
	}
	if keys := c.Keys(); len(keys) != 0 {
		t.Errorf("a closed rotator holds %d keys", len(keys))
	}
	if keys, err := decodeKeys((shared{c}).State()); err != nil || len(keys) != 0 {
		t.Errorf("a closed rotator gossips %d keys (%v)", len(keys), err)
	}
	if tag := tc.net.nodes["c"].tags[tagKey]; tag != "" {
		t.Errorf("a closed rotator still advertises %q", tag)
	}

	// The others still agree among themselves and move to the new key.
	delete(tc.nodes, "c")
	old := tc.current()["a"]
	tc.clock.Advance(staging + time.Second)
	tc.step()
	if cur := tc.current(); cur["a"] == old || cur["a"] != cur["b"] {
		t.Errorf("a and b encrypt with %x and %x, want the new key (not %x)", cur["a"], cur["b"], old)
	}
}

// TestReady: a node alone has a key at once when asked; a node that joins
// has the cluster's; a closed rotator says so.
func TestReady(t *testing.T) {
	tc := newTestCluster(t)
	a := tc.add("a", Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	b := tc.add("b", Config{})
	tc.net.pushPull() // what a join does
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if cur := tc.current(); cur["a"] != cur["b"] {
		t.Errorf("a encrypts with %x, b with %x", cur["a"], cur["b"])
	}
	b.Close()
	if err := b.Ready(ctx); !errors.Is(err, ErrClosed) && err != nil {
		t.Errorf("Ready after Close: %v", err)
	}
}

// TestDeriveKey: every node encrypting with the same key derives the same
// bytes for a label, other bytes for another label, and new bytes (with a new
// ID) once the next key encrypts; nothing before a key or after Close.
func TestDeriveKey(t *testing.T) {
	tc := newTestCluster(t, "a", "b", "c")
	if _, _, err := tc.nodes["b"].DeriveKey("node", 48); !errors.Is(err, ErrNoKey) {
		t.Fatalf("before any key: %v, want ErrNoKey", err)
	}
	tc.step()
	derive := func(name, label string) (uint64, []byte) {
		t.Helper()
		id, b, err := tc.nodes[name].DeriveKey(label, 48)
		if err != nil || len(b) != 48 {
			t.Fatalf("%s: DeriveKey: %d bytes, %v", name, len(b), err)
		}
		return id, b
	}
	id, first := derive("a", "node")
	for _, name := range []string{"b", "c"} {
		if id2, b := derive(name, "node"); id2 != id || !bytes.Equal(b, first) {
			t.Errorf("%s derived other bytes than a for the same key", name)
		}
	}
	if _, other := derive("a", "other"); bytes.Equal(other, first) {
		t.Error("two labels derived the same bytes")
	}
	if id != tc.current()["a"] {
		t.Errorf("DeriveKey's ID %x is not the active key's %x", id, tc.current()["a"])
	}
	tc.clock.Advance(rotation)
	tc.step()
	if id2, b := derive("c", "node"); id2 != id || !bytes.Equal(b, first) {
		t.Error("the derived key changed while the new key was staged")
	}
	tc.clock.Advance(staging)
	tc.step()
	id2, second := derive("b", "node")
	if id2 == id || bytes.Equal(second, first) {
		t.Error("the derived key did not change with the active key")
	}
	tc.nodes["a"].Close()
	if _, _, err := tc.nodes["a"].DeriveKey("node", 48); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
