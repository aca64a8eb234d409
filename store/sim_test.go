package store

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/faultnet"
	"github.com/sessionmesh/sessionmesh/internal/testclock"
	"github.com/sessionmesh/sessionmesh/store/internal/ring"
)

// The churn simulation: a seeded, random schedule of what happens to a
// cluster — joins, graceful leaves, crashes, restarts under the same name or
// a new one, partitions of the data network or of the membership too, dead
// data ports, clock jumps, views of the membership that lag behind — run
// against real stores on loopback, while clients keep writing and reading
// sessions. pgregory.net/rapid draws the schedules and, when an invariant
// breaks, shrinks the schedule to a short one that still breaks it and prints
// it with the seed that replays it.
//
// Membership is simulated, not gossiped: each node has its own view, which
// catches up with the truth only when the schedule says so (a "sync" step,
// or at the end), so schedules explore views that disagree, as memberlist's
// do for a moment after every change. The data channel is real: TLS over
// loopback, each node on its own address, cut by faultnet.
//
// Invariants, after every step:
//   - no session is lost unless every member that held it crashed (or left
//     saying it could not hand it over, or was handing it to a member that
//     crashed, which may have taken it), or it expired;
//   - a Get ends with the record or with a reason (not found, expired,
//     unavailable, its deadline), never hangs, never returns another's value;
//   - every store stays within its memory budget;
//   - a Leave that returns nil handed everything over;
//   - web sessions (Commit, Delete, Find of a few keys on any node): a Find
//     returns a whole state the session once had, never a mix; once the
//     cluster is quiet (no cut, views agree, no copies on their way), only
//     the last acknowledged write or a later one that failed and may have
//     landed: an acknowledged write is never lost (unless every holder
//     crashed) and a deleted session never comes back.
//
// At quiescence (partitions healed, views caught up, rebalances finished):
//   - every live session is held by exactly its owners on the ring, and by
//     no one else, and so is every web session and tombstone;
//   - every member finds every live session.
//
// go test runs 20 short schedules, the same ones every time (a fixed seed);
// SESSIONMESH_SOAK=<duration> draws new schedules until that much time has
// passed (docs/operations.md).

func TestChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("the churn simulation needs a few seconds")
	}
	setRapidDefault("rapid.checks", "20")
	setRapidDefault("rapid.steps", "25")
	soak := os.Getenv("SESSIONMESH_SOAK")
	if soak == "" {
		// go test runs the same schedules every time, so that it passes or
		// fails on the code, not on the draw; the soak draws new ones.
		setRapidDefault("rapid.seed", "20261202")
		rapid.Check(t, runSim)
		return
	}
	d, err := time.ParseDuration(soak)
	if err != nil {
		t.Fatalf("SESSIONMESH_SOAK=%q: want a duration, such as 1h", soak)
	}
	end, runs := time.Now().Add(d), 0
	for time.Now().Before(end) && !t.Failed() {
		rapid.Check(t, runSim)
		runs++
	}
	t.Logf("soak: %d rounds of %s schedules in %v", runs, flag.Lookup("rapid.checks").Value, d)
}

// setRapidDefault sets a rapid flag unless the command line set it.
func setRapidDefault(name, value string) {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if _, env := os.LookupEnv(strings.ToUpper(strings.ReplaceAll(name, ".", "_"))); !set && !env {
		flag.Set(name, value)
	}
}

func runSim(rt *rapid.T) {
	s := newSim(rt)
	defer s.close()
	for range rapid.IntRange(2, 4).Draw(rt, "initial nodes") {
		s.startNode(s.newName())
	}
	s.syncAll()
	// Time passes between steps, as it does for clients: 10 ms a step.
	tick := func(name string, f func(*rapid.T)) func(*rapid.T) {
		return func(t *rapid.T) {
			s.clock.Advance(10 * time.Millisecond)
			s.steps++
			s.step = fmt.Sprintf("step %d (%s)", s.steps, name)
			f(t)
		}
	}
	rt.Repeat(map[string]func(*rapid.T){
		"put":       tick("put", s.put),
		"commit":    tick("commit", s.webCommit),
		"set":       tick("set", s.webSet),
		"delete":    tick("delete", s.webDelete),
		"find":      tick("find", s.webFind),
		"get":       tick("get", s.get),
		"join":      tick("join", s.join),
		"leave":     tick("leave", s.leave),
		"crash":     tick("crash", s.crash),
		"restart":   tick("restart", s.restart),
		"partition": tick("partition", s.partition),
		"deaf":      tick("deaf", s.deaf),
		"heal":      tick("heal", s.heal),
		"sync":      tick("sync", s.sync),
		"clock":     tick("clock", s.jump),
		"":          s.check,
	})
	s.quiesce()
}

// simTTL is how long a session lives; clock jumps are a fraction of it.
const simTTL = time.Hour

// sim is one run: the truth about the cluster, each node's view of it, the
// stores, and what the clients wrote.
type sim struct {
	step   string // the step being taken, for reports
	steps  int
	t      *rapid.T
	secret []byte
	clock  *testclock.Clock
	net    *faultnet.Network
	cut    bool // the data network is partitioned
	names  int  // names made so far

	mu    sync.Mutex // guards truth and views, which the stores read
	truth map[string]cluster.Member
	views map[string]*simView

	stores   map[string]*Store
	replicas int
	sessions map[string]*simSession // by ID
	web      map[string]*simWeb     // web sessions, by key
	writes   int
}

// simWeb is what the clients know of a web session: the states a Find may
// return now (the last acknowledged write, and writes that failed after it,
// which may or may not have landed), and every state it ever had.
type simWeb struct {
	now  map[string]bool // "" is no session (deleted, expired, or never written)
	ever map[string]bool
	// deleted: a Delete was called (it may have landed), so the session may
	// be gone for good: Commit never brings a deleted session back.
	deleted bool
	// lost says why the session may be gone (every holder crashed); a Find
	// may then also say it is not found.
	lost    string
	expires map[string]time.Time // when each state written expires
	// expiredAstray: every state it may have had expired in a clock jump
	// while the cluster was not quiet, its newest copy perhaps on its way to
	// an owner. A rebalance sends no expired copy, so an older tombstone may
	// stay on that owner (see webExpiredAstray).
	expiredAstray bool
}

func (w *simWeb) acked(state string) {
	w.now = map[string]bool{state: true}
	w.ever[state] = true
	w.expiredAstray = false
}

func (w *simWeb) failed(state string) {
	w.now[state] = true
	w.ever[state] = true
	w.expiredAstray = false
}

// simSession is a session a client wrote.
type simSession struct {
	value   string
	expires time.Time
	lost    string // why it may be gone, once it may
	// handedTo names a node that crashed while the other holders, handedBy,
	// were handing the session to it: a holder that heard it take the
	// session drops its copy, maybe only after the crash, and the session
	// may then go with that node, as if every holder had crashed.
	handedTo string
	handedBy []string
	// history says, step by step, where its copies were: what a report
	// of its loss needs, since rapid shows the output of a replay, not of
	// the failing run, and the replay may not fail.
	history []string
}

func newSim(t *rapid.T) *sim {
	return &sim{
		t: t, secret: cluster.NewSecret(),
		clock:    testclock.New(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
		net:      faultnet.New(),
		truth:    make(map[string]cluster.Member),
		views:    make(map[string]*simView),
		stores:   make(map[string]*Store),
		replicas: rapid.IntRange(1, 3).Draw(t, "replicas"),
		sessions: make(map[string]*simSession),
		web:      make(map[string]*simWeb),
	}
}

func (s *sim) newName() string {
	s.names++
	return "n" + strconv.Itoa(s.names)
}

// live returns the running nodes' names, sorted.
func (s *sim) live() []string {
	return slices.Sorted(maps.Keys(s.stores))
}

func (s *sim) pick(t *rapid.T, label string) string {
	live := s.live()
	if len(live) == 0 {
		t.Skip("no node")
	}
	return rapid.SampledFrom(live).Draw(t, label)
}

// startNode starts a store named name: a new process, so a new start time,
// whose view is what a join brings (every member it can reach).
func (s *sim) startNode(name string) {
	s.t.Helper()
	ip := s.net.Add(name)
	tlsConf, err := cluster.PeerTLSConfig(name, s.secret)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.truth[name] = cluster.Member{Name: name, Addr: ip + ":7946", Started: s.clock.Now().Add(time.Duration(s.names) * time.Nanosecond)}
	v := &simView{s: s, name: name, watchers: make(map[chan struct{}]struct{})}
	s.views[name] = v
	s.mu.Unlock()
	v.catchUp()
	st, err := New(v, Config{
		Addr: ip + ":0", TLS: tlsConf, Replicas: s.replicas, Dial: DialFunc(s.net.Dialer(name)),
		Now: s.clock.Now, retryBase: 20 * time.Millisecond, RebalanceRate: 100_000,
		Logger: slog.New(slog.NewTextHandler(tWriter{s.t, name}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.stores[name] = st
	// As sessionmesh.Start does, wait until its ring has every member its
	// view knows of before clients use it.
	s.awaitRing(name)
}

// awaitRing waits until name's store has built its ring from its view, so
// that the next step sees the view the schedule gave it.
func (s *sim) awaitRing(name string) {
	st, v := s.stores[name], s.views[name]
	for end := time.Now().Add(10 * time.Second); ; {
		r := st.view.Load().ring
		if want := v.dataMembers(); r != nil && slices.Equal(r.Nodes(), want) {
			return
		} else if time.Now().After(end) {
			s.t.Fatalf("%s has not built its ring from its view's members %v", name, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// stop takes a node out: its store closes (after Leave if graceful), the
// process is gone from the truth, and the others notice when their views
// catch up. Sessions only it held are lost, unless a Leave said it handed
// them over.
func (s *sim) stop(name string, graceful bool) {
	st := s.stores[name]
	var leaveErr error
	alone := st.Stats().RingNodes <= 1 // as far as it knows: nobody to hand over to
	if graceful {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		leaveErr = st.Leave(ctx)
		cancel()
		s.t.Logf("leave %s: %v", name, leaveErr)
	}
	for key := range s.web {
		if b, _, ok := st.web.mem.peek(key, s.clock.Now()); ok {
			s.t.Logf("%s stops holding %s=%q", name, key, stateOf(b))
		}
	}
	for id, ss := range s.sessions {
		if _, _, ok := st.tls.mem.peek(id, s.clock.Now()); ok {
			s.t.Logf("%s stops holding %s (%x)", name, ss.value, id[:4])
			ss.history = append(ss.history, fmt.Sprintf("%s stops (graceful %v, leave: %v)", name, graceful, leaveErr))
		}
	}
	v := s.views[name]
	if !graceful {
		// A crash: its membership goes first, so that Close does not
		// withdraw it from its own ring and hand records over on the way
		// out, as a Leave would. (A copy already on its way may land.)
		v.close()
	}
	st.Close()
	delete(s.stores, name)
	s.mu.Lock()
	delete(s.truth, name)
	delete(s.views, name)
	s.mu.Unlock()
	v.close()
	// What it held when it stopped is in its memory still (nothing runs
	// there now): a session nobody else holds went with it. Looked at after
	// Close, not before: records were still moving until then.
	for id, ss := range s.sessions {
		if ss.lost != "" {
			continue
		}
		if _, _, ok := st.tls.mem.peek(id, s.clock.Now()); !ok {
			continue // not its loss: check will say so
		}
		if others := s.holders(id); len(others) > 0 {
			if !graceful && s.handingTo(others, id, name) {
				ss.handedTo, ss.handedBy = name, others
			}
			continue
		}
		switch {
		case !graceful:
			ss.lost = "every holder crashed"
		case leaveErr == nil && !alone:
			s.t.Fatalf("%s left without an error, but session %x (%s) is held by nobody else", name, id[:4], ss.value)
		default:
			ss.lost = "its only holder left, saying it could not hand it over"
		}
	}
	// A web session's newest state went with the node if no live node holds
	// a copy of it and the node did: then any earlier state may come back
	// (the newest write, or a deletion, is lost, as when every holder of a
	// TLS session crashes).
	for key, w := range s.web {
		held := func(st *Store) bool {
			b, _, ok := st.web.mem.peek(key, s.clock.Now())
			return ok && w.now[stateOf(b)]
		}
		if !held(st) || slices.ContainsFunc(s.live(), func(n string) bool { return held(s.stores[n]) }) {
			continue
		}
		switch {
		case !graceful:
			w.lost = "every holder of its newest state crashed"
		case leaveErr == nil && !alone:
			s.t.Fatalf("%s left without an error, but web session %s's newest state is held by nobody else", name, key)
		default:
			w.lost = "the only holder of its newest state left, saying it could not hand it over"
		}
		maps.Copy(w.now, w.ever)
	}
}

// stateOf returns the state an encoded web session entry holds: its value,
// or "" for a tombstone.
func stateOf(b []byte) string {
	e, err := decodeEntry(b)
	if err != nil || e.deleted {
		return ""
	}
	return string(e.value)
}

// webCopies describes every copy of key in the live nodes' memory, expired
// ones too, and the copies of it each still has to send: what a failure
// report needs to tell where a state came from.
func (s *sim) webCopies(key string) string {
	var b strings.Builder
	now := s.clock.Now()
	for _, name := range s.live() {
		st := s.stores[name]
		if held, _, ok := st.web.mem.peek(key, time.Unix(0, 0)); ok {
			e, _ := decodeEntry(held)
			fmt.Fprintf(&b, "\n\t%s holds %q version %d/%x, expires in %v", name, stateOf(held), e.version.counter, e.version.writer, e.expires.Sub(now))
		}
		st.pending.mu.Lock()
		if r := st.pending.entries[pendingKey{st.web, key}]; r != nil {
			fmt.Fprintf(&b, "\n\t%s has a copy to send to %v (every owner: %v), drop after: %v", name, slices.Sorted(maps.Keys(r.to)), r.to == nil, r.drop)
		}
		st.pending.mu.Unlock()
	}
	return b.String()
}

// tlsCopies describes every copy of a TLS session in the live nodes'
// memory, expired ones too, and the copies of it each still has to send.
func (s *sim) tlsCopies(id string) string {
	var b strings.Builder
	now := s.clock.Now()
	for _, name := range s.live() {
		st := s.stores[name]
		if _, exp, ok := st.tls.mem.peek(id, time.Unix(0, 0)); ok {
			fmt.Fprintf(&b, "\n\t%s holds it, expiring in %v", name, exp.Sub(now))
		}
		st.pending.mu.Lock()
		if r := st.pending.entries[pendingKey{st.tls, id}]; r != nil {
			fmt.Fprintf(&b, "\n\t%s has a copy to send to %v (every owner: %v), drop after: %v", name, slices.Sorted(maps.Keys(r.to)), r.to == nil, r.drop)
		}
		st.pending.mu.Unlock()
	}
	return b.String()
}

// rings describes each live node's ring and whether it is still moving
// records: what a report of a copy in the wrong place needs.
func (s *sim) rings() string {
	var b strings.Builder
	for _, name := range s.live() {
		st := s.stores[name]
		v := st.view.Load()
		var nodes []string
		if v.ring != nil {
			nodes = v.ring.Nodes()
		}
		stats := st.Stats()
		fmt.Fprintf(&b, "\n\t%s's ring: %v, rebalancing %v, copies retrying %d, pending %d", name, nodes, stats.Rebalancing, stats.CopiesRetrying, stats.CopiesPending)
	}
	return b.String()
}

// webHolders returns the live nodes whose memory holds a copy of key.
func (s *sim) webHolders(key string) []string {
	var out []string
	for _, name := range s.live() {
		if _, _, ok := s.stores[name].web.mem.peek(key, s.clock.Now()); ok {
			out = append(out, name)
		}
	}
	return out
}

// webExpiredAstray reports whether key is in the one state, other than its
// copies on exactly its owners, that quiescence may leave it in: its last
// state expired while copies may have been on their way (expiredAstray),
// and the only live copies are tombstones, on owners. A key deleted,
// recreated with Set on a member that had not yet seen another, then
// expired before the rebalance reached that member, is one: rebalancing
// sends no expired copy, so the older tombstone stays on that owner until
// it expires in turn, or a read repairs it onto the other owners. The key
// reads as absent everywhere (the reads after quiescence check that),
// though a Commit of it is refused until the tombstone expires; only a Set
// recreates it (members compare a copy only with the live one they hold).
// Whether the expired copy is still in memory does not matter: the sweep
// may have dropped it.
func (s *sim) webExpiredAstray(key string, owners []string) bool {
	if w := s.web[key]; w == nil || !w.expiredAstray {
		return false
	}
	for _, name := range s.live() {
		held, _, ok := s.stores[name].web.mem.peek(key, s.clock.Now())
		if !ok {
			continue
		}
		e, err := decodeEntry(held)
		if err != nil {
			s.t.Fatalf("%s holds web session %s as %x: %v", name, key, held, err)
		}
		if !e.deleted || !slices.Contains(owners, name) {
			return false // a live value, or a copy off the owners: misplaced
		}
	}
	return true
}

// The web session actions: a few keys, written, deleted and read by
// clients on any member.

var simWebKeys = []string{"alice", "bob", "carol"}

// simSetKeys are written with Set, as the sidecar's Redis SET does: a write
// after a delete recreates them.
var simSetKeys = []string{"dave", "erin"}

func (s *sim) webState(key string) *simWeb {
	w := s.web[key]
	if w == nil {
		w = &simWeb{now: map[string]bool{"": true}, ever: map[string]bool{"": true}, expires: make(map[string]time.Time)}
		s.web[key] = w
	}
	return w
}

// webWrite draws a node and one of keys, and writes a new state of it there
// with write (a method expression of WebSessions: Commit or Set).
func (s *sim) webWrite(t *rapid.T, verb string, keys []string, write func(*WebSessions, context.Context, string, []byte, time.Time) error) (*simWeb, string, error) {
	name := s.pick(t, "node")
	key := rapid.SampledFrom(keys).Draw(t, "key")
	s.writes++
	value := fmt.Sprintf("%s#%d", key, s.writes)
	w := s.webState(key)
	w.expires[value] = s.clock.Now().Add(simTTL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := write(s.stores[name].WebSessions(), ctx, key, []byte(value), w.expires[value])
	if err != nil {
		t.Logf("%s %s on %s: %v", verb, key, name, err)
	}
	s.t.Logf("after %s %s: held by %v%s", verb, value, s.webHolders(key), s.webCopies(key))
	return w, value, err
}

// webCommit writes a session as scs and gorilla do: a deleted one stays
// deleted.
func (s *sim) webCommit(t *rapid.T) {
	w, value, err := s.webWrite(t, "commit", simWebKeys, (*WebSessions).Commit)
	switch {
	case errors.Is(err, ErrDeleted):
		if !w.deleted {
			t.Fatalf("commit %s: %v, but it was never deleted", value, err)
		}
		// The tombstone stands and is final: nothing else can be read
		// once it has reached the owners.
		w.now = map[string]bool{"": true}
		w.lost = ""
	case err != nil, w.deleted:
		// Failed, so it may or may not have landed; or written where no
		// tombstone was, and one elsewhere wins once they meet.
		w.failed(value)
	default:
		w.acked(value)
		w.lost = ""
	}
}

// webSet writes a key as the sidecar's Redis SET does: over a delete too.
func (s *sim) webSet(t *rapid.T) {
	w, value, err := s.webWrite(t, "set", simSetKeys, (*WebSessions).Set)
	if err != nil {
		w.failed(value)
		return
	}
	w.acked(value)
	w.lost = ""
}

func (s *sim) webDelete(t *rapid.T) {
	name := s.pick(t, "node")
	key := rapid.SampledFrom(append(slices.Clone(simWebKeys), simSetKeys...)).Draw(t, "key")
	w := s.webState(key)
	w.deleted = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	defer func() { s.t.Logf("after delete of %s on %s:%s", key, name, s.webCopies(key)) }()
	if err := s.stores[name].WebSessions().Delete(ctx, key); err != nil {
		t.Logf("delete %s on %s: %v", key, name, err)
		w.failed("")
		return
	}
	w.acked("")
	w.lost = ""
}

func (s *sim) webFind(t *rapid.T) {
	name := s.pick(t, "node")
	key := rapid.SampledFrom(append(slices.Clone(simWebKeys), simSetKeys...)).Draw(t, "key")
	w := s.webState(key)
	quietBefore := s.quiet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, found, err := s.stores[name].WebSessions().Find(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Find %s on %s: %v; want the session, none, or ErrUnavailable", key, name, err)
		}
		return
	}
	got := ""
	if found {
		got = string(v)
	}
	// While the cluster is not quiet (a partition, views that disagree,
	// copies on their way to owners that were out of reach), a member reads
	// what its side holds: any state the session ever had. Once it is,
	// only what is acknowledged (or may have landed).
	allowed, quiet := w.ever, quietBefore && s.quiet()
	if quiet {
		allowed = w.now
	}
	if !allowed[got] {
		t.Fatalf("Find %s on %s: %q, want one of %q (quiet: %v)", key, name, got, slices.Sorted(maps.Keys(allowed)), quiet)
	}
}

// quiet reports whether the data network is whole, every view agrees, and
// no member has copies on their way.
func (s *sim) quiet() bool {
	if s.cut || !s.viewsAgree() {
		return false
	}
	for _, st := range s.stores {
		if stats := st.Stats(); stats.Rebalancing || stats.CopiesPending > 0 {
			return false
		}
	}
	return true
}

// viewsAgree reports whether every view is the truth, and every store has
// built its ring from it: no partition of the views, none lagging.
func (s *sim) viewsAgree() bool {
	live := s.live()
	for _, n := range live {
		if r := s.stores[n].view.Load().ring; r == nil || !slices.Equal(r.Nodes(), live) {
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.views {
		if v.side != 0 || len(v.members) != len(s.truth) {
			return false
		}
		for name, m := range s.truth {
			if vm, ok := v.members[name]; !ok || vm.DataAddr != m.DataAddr || !vm.Started.Equal(m.Started) {
				return false
			}
		}
	}
	return true
}

// holders returns the live nodes whose memory holds id.
func (s *sim) holders(id string) []string {
	var out []string
	for _, name := range s.live() {
		if _, _, ok := s.stores[name].tls.mem.peek(id, s.clock.Now()); ok {
			out = append(out, name)
		}
	}
	return out
}

func (s *sim) close() {
	for _, name := range s.live() {
		s.stores[name].Close()
		s.views[name].close()
	}
	s.net.Heal()
}

// The actions.

func (s *sim) put(t *rapid.T) {
	name := s.pick(t, "node")
	st := s.stores[name]
	id := st.NewID()
	value := fmt.Sprintf("session %d", len(s.sessions))
	now := s.clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := st.Put(ctx, id, Record{Value: []byte(value), ServerName: "a.example", Created: now, Expires: now.Add(simTTL)}); err != nil {
		t.Fatalf("Put on %s: %v", name, err)
	}
	s.sessions[id] = &simSession{value: value, expires: now.Add(simTTL)}
	s.t.Logf("after put of %s (%x) on %s: held by %v", value, id[:4], name, s.holders(id))
	s.sessions[id].history = append(s.sessions[id].history, fmt.Sprintf("put on %s: held by %v", name, s.holders(id)))
}

func (s *sim) get(t *rapid.T) {
	if len(s.sessions) == 0 {
		t.Skip("no session yet")
	}
	id := rapid.SampledFrom(slices.Sorted(maps.Keys(s.sessions))).Draw(t, "session")
	name := s.pick(t, "node")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r, err := s.stores[name].Get(ctx, id)
	switch {
	case err == nil && string(r.Value) != s.sessions[id].value:
		t.Fatalf("Get on %s: %q, want %q", name, r.Value, s.sessions[id].value)
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrExpired), errors.Is(err, ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, faultnet.ErrPartitioned):
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
		// A peer whose process is gone, before the view has been told.
	default:
		t.Fatalf("Get on %s: %v; want the record, or a miss with its reason", name, err)
	}
}

func (s *sim) join(t *rapid.T) {
	if len(s.stores) >= 6 {
		t.Skip("enough nodes")
	}
	s.startNode(s.newName())
}

func (s *sim) leave(t *rapid.T) {
	if len(s.stores) <= 1 {
		t.Skip("the last node")
	}
	s.stop(s.pick(t, "node"), true)
}

func (s *sim) crash(t *rapid.T) {
	if len(s.stores) <= 1 {
		t.Skip("the last node")
	}
	s.stop(s.pick(t, "node"), false)
}

func (s *sim) restart(t *rapid.T) {
	name := s.pick(t, "node")
	graceful := rapid.Bool().Draw(t, "graceful")
	s.stop(name, graceful)
	if rapid.Bool().Draw(t, "same name") {
		s.startNode(name)
	} else {
		s.startNode(s.newName())
	}
}

// partition splits the nodes in two. With views, the membership splits too
// (each side declares the other dead, once its views catch up); without,
// only the data network does: members still listed whose data ports do not
// answer.
func (s *sim) partition(t *rapid.T) {
	live := s.live()
	if len(live) < 2 {
		t.Skip("one node")
	}
	cut := rapid.IntRange(1, len(live)-1).Draw(t, "cut")
	a, b := live[:cut], live[cut:]
	s.net.Partition(a, b)
	s.cut = true
	if rapid.Bool().Draw(t, "views too") {
		s.mu.Lock()
		for _, n := range a {
			s.views[n].side = 0
		}
		for _, n := range b {
			s.views[n].side = 1
		}
		s.mu.Unlock()
	}
}

// deaf makes one node's data port unreachable while every view keeps it.
func (s *sim) deaf(t *rapid.T) {
	live := s.live()
	if len(live) < 2 {
		t.Skip("one node")
	}
	n := s.pick(t, "node")
	s.net.Partition([]string{n}, slices.DeleteFunc(live, func(m string) bool { return m == n }))
	s.cut = true
}

func (s *sim) heal(*rapid.T) {
	s.net.Heal()
	s.cut = false
	s.mu.Lock()
	for _, v := range s.views {
		v.side = 0
	}
	s.mu.Unlock()
}

func (s *sim) sync(t *rapid.T) {
	name := s.pick(t, "node")
	s.views[name].catchUp()
	s.awaitRing(name)
}

func (s *sim) syncAll() {
	s.mu.Lock()
	views := slices.Collect(maps.Values(s.views))
	s.mu.Unlock()
	for _, v := range views {
		v.catchUp()
	}
	for _, v := range views {
		s.awaitRing(v.name)
	}
}

// jump moves every node's clock forward: a pause, or a clock that was set.
// Sessions that expire meanwhile may go.
func (s *sim) jump(t *rapid.T) {
	quiet := s.quiet()
	s.clock.Advance(time.Duration(rapid.IntRange(1, 30).Draw(t, "minutes")) * time.Minute)
	for _, ss := range s.sessions {
		if ss.lost == "" && !ss.expires.After(s.clock.Now()) {
			ss.lost = "expired"
		}
	}
	for _, w := range s.web {
		// A state that expires is as good as deleted.
		for state := range w.now {
			if state != "" && !w.expires[state].After(s.clock.Now()) {
				delete(w.now, state)
				w.now[""] = true
				if len(w.now) == 1 && !quiet {
					w.expiredAstray = true
				}
			}
		}
	}
}

// handingTo reports whether every one of holders, by its own view, holds
// session id only to hand it to its owners: node to, and others of holders.
// Only a copy to taking it lets one drop its copy; a copy another holder
// takes does not, as it hands the session on to to in turn.
func (s *sim) handingTo(holders []string, id, to string) bool {
	for _, n := range holders {
		v := s.stores[n].view.Load()
		owners := v.placement(id)
		if v.holds(id) || !slices.Contains(owners, to) ||
			slices.ContainsFunc(owners, func(o string) bool { return o != to && !slices.Contains(holders, o) }) {
			return false
		}
	}
	return true
}

// check holds after every step.
func (s *sim) check(t *rapid.T) {
	for id, ss := range s.sessions {
		holders := s.holders(id)
		if ss.handedTo != "" && slices.ContainsFunc(holders, func(n string) bool {
			return !slices.Contains(ss.handedBy, n) || s.stores[n].view.Load().holds(id)
		}) {
			ss.handedTo = "" // another member or an owner has it: it is not going with that node
		}
		if ss.lost == "" && len(holders) == 0 && ss.handedTo != "" {
			ss.lost = "its holders handed it to " + ss.handedTo + ", which crashed"
		}
		if ss.lost == "" && len(holders) == 0 {
			t.Fatalf("session %x (%s) is lost: no live node holds it, though not every holder crashed%s\n\thistory:\n\t\t%s",
				id[:4], ss.value, s.tlsCopies(id), strings.Join(append(ss.history, s.step), "\n\t\t"))
		}
		if h := fmt.Sprint(holders); len(ss.history) == 0 || !strings.HasSuffix(ss.history[len(ss.history)-1], h) {
			ss.history = append(ss.history, fmt.Sprintf("after %s: held by %s", s.step, h))
		}
	}
	for name, st := range s.stores {
		if st.Stats().Bytes > st.cfg.MaxBytes {
			t.Fatalf("%s holds %d bytes, over its budget of %d", name, st.Stats().Bytes, st.cfg.MaxBytes)
		}
	}
}

// quiesce heals everything, lets every view catch up and every rebalance
// finish, and checks that every live session is where it belongs and found
// from every node.
func (s *sim) quiesce() {
	t := s.t
	for _, key := range slices.Sorted(maps.Keys(s.web)) {
		t.Logf("before quiescence, web session %s is held by %v%s", key, s.webHolders(key), s.webCopies(key))
	}
	s.heal(t)
	s.syncAll()
	live := s.live()
	if len(live) == 0 {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range live {
		for {
			st := s.stores[name].Stats()
			if st.RingNodes == len(live) && !st.Rebalancing && st.CopiesPending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has not settled: %d of %d nodes on its ring, rebalancing %v", name, st.RingNodes, len(live), st.Rebalancing)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	r := ring.New(live, 0, nil)
	want := min(s.replicas, len(live))
	for id, ss := range s.sessions {
		if ss.lost != "" {
			continue
		}
		owners := r.Owners(id, want)
		sort.Strings(owners)
		// Copies still in flight (replicas of the last writes) land soon.
		for end := time.Now().Add(10 * time.Second); ; {
			if got := s.holders(id); slices.Equal(got, owners) {
				break
			} else if time.Now().After(end) {
				t.Fatalf("session %x (%s) is held by %v, want exactly its owners %v%s%s\n\thistory:\n\t\t%s",
					id[:4], ss.value, got, owners, s.tlsCopies(id), s.rings(), strings.Join(ss.history, "\n\t\t"))
			}
			time.Sleep(5 * time.Millisecond)
		}
		for _, name := range live {
			// A peer that failed during a partition is skipped for up to 2 s
			// after it (the client's backoff): read until that passes.
			for end := time.Now().Add(5 * time.Second); ; {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				rec, err := s.stores[name].Get(ctx, id)
				cancel()
				if err == nil && string(rec.Value) == ss.value {
					break
				}
				if !errors.Is(err, ErrUnavailable) || time.Now().After(end) {
					t.Fatalf("after quiescence, %s reads session %x (%s): %q, %v", name, id[:4], ss.value, rec.Value, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s.web)) {
		s.quiesceWeb(r, want, live, key)
	}
}

// quiesceWeb checks a web session after quiescence: its copies (a tombstone
// is one) on exactly its owners, all one version, unless webExpiredAstray
// excuses them, and every member reads one state, one the clients may see.
func (s *sim) quiesceWeb(r *ring.Ring, want int, live []string, key string) {
	t, w := s.t, s.web[key]
	owners := r.Owners(key, want)
	sort.Strings(owners)
	var astray bool // expired astray: tombstones on some owners only
	for end := time.Now().Add(10 * time.Second); ; {
		got := s.webHolders(key)
		if astray = s.webExpiredAstray(key, owners); astray || len(got) == 0 || slices.Equal(got, owners) {
			break
		} else if time.Now().After(end) {
			t.Fatalf("web session %s is held by %v, want exactly its owners %v%s%s", key, got, owners, s.webCopies(key), s.rings())
		}
		time.Sleep(5 * time.Millisecond)
	}
	holders := s.webHolders(key)
	if astray {
		holders = nil // old tombstones: their versions need not agree
	}
	var first version
	for i, o := range holders {
		held, _, _ := s.stores[o].web.mem.peek(key, s.clock.Now())
		e, _ := decodeEntry(held)
		if i == 0 {
			first = e.version
		} else if e.version != first {
			t.Fatalf("web session %s: copies at versions %v and %v after quiescence", key, first, e.version)
		}
	}
	read := map[string]bool{}
	for _, name := range live {
		for end := time.Now().Add(5 * time.Second); ; {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			v, found, err := s.stores[name].WebSessions().Find(ctx, key)
			cancel()
			if err == nil {
				got := ""
				if found {
					got = string(v)
				}
				if !w.now[got] {
					t.Fatalf("after quiescence, %s reads web session %s as %q, want one of %q%s", name, key, got, slices.Sorted(maps.Keys(w.now)), s.webCopies(key))
				}
				read[got] = true
				break
			}
			if !errors.Is(err, ErrUnavailable) || time.Now().After(end) {
				t.Fatalf("after quiescence, %s reads web session %s: %v", name, key, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(read) > 1 {
		t.Fatalf("after quiescence, members read web session %s as %v: more than one value", key, slices.Sorted(maps.Keys(read)))
	}
}

// simView is one node's view of the membership: a Membership for its store.
type simView struct {
	s    *sim
	name string
	side int // views on different sides do not see each other

	members  map[string]cluster.Member // guarded by s.mu
	watchers map[chan struct{}]struct{}
	closed   bool
}

// catchUp brings the view up to the truth of its side.
func (v *simView) catchUp() {
	s := v.s
	s.mu.Lock()
	next := make(map[string]cluster.Member)
	for name, m := range s.truth {
		if other := s.views[name]; other != nil && other.side == v.side {
			m.Local = name == v.name
			next[name] = m
		}
	}
	changed := !maps.EqualFunc(v.members, next, func(a, b cluster.Member) bool {
		return a.DataAddr == b.DataAddr && a.Started.Equal(b.Started)
	})
	v.members = next
	if changed {
		v.notifyLocked()
	}
	s.mu.Unlock()
}

// dataMembers returns the names of the view's members that serve a data
// channel, sorted.
func (v *simView) dataMembers() []string {
	var names []string
	for _, m := range v.Members() {
		if m.DataAddr != "" {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	return names
}

func (v *simView) notifyLocked() {
	for ch := range v.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (v *simView) Members() []cluster.Member {
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	return slices.Collect(maps.Values(v.members))
}

func (v *simView) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	if v.closed {
		close(ch)
		return ch, func() {}
	}
	v.watchers[ch] = struct{}{}
	return ch, func() {
		v.s.mu.Lock()
		defer v.s.mu.Unlock()
		if _, ok := v.watchers[ch]; ok {
			delete(v.watchers, ch)
			close(ch)
		}
	}
}

// Advertise changes the truth, and this node's own view at once; the others
// learn of it when theirs catch up.
func (v *simView) Advertise(addr string, version uint8) error {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.closed {
		return cluster.ErrClosed
	}
	m, ok := s.truth[v.name]
	if !ok {
		return cluster.ErrClosed
	}
	m.DataAddr, m.DataVersion = addr, version
	s.truth[v.name] = m
	m.Local = true
	v.members[v.name] = m
	v.notifyLocked()
	return nil
}

func (v *simView) close() {
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	v.closed = true
	for ch := range v.watchers {
		close(ch)
	}
	clear(v.watchers)
}

// tWriter writes a store's log lines to the schedule's log, shown if it fails.
type tWriter struct {
	t    *rapid.T
	name string
}

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimSpace(string(p)))
	return len(p), nil
}
