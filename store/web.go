package store

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

// WebSessions is the store's space for web sessions: the server-side state
// of a login cookie, a cart, what scs and gorilla/sessions keep. Unlike a
// TLS session, a web session changes on every request that touches it,
// sometimes on two members at once, and losing or resurrecting one is
// visible to its user, so:
//
//   - Writes are coordinated. A Commit goes to the first of the key's owners
//     it can reach (the owner, unless it is down), which gives the write a
//     version greater than every copy it and the members it writes to hold,
//     and returns only once Replicas members have stored it: an acknowledged
//     write survives the crash of any Replicas−1 members.
//   - Reads ask Replicas members and take the newest copy, so a Find on any
//     member right after a Commit on another sees it, even if an owner that
//     missed writes (it was partitioned away) answers too; fewer answers are
//     an error, never a copy that may be stale. Stale copies they find are
//     repaired.
//   - Every copy, wherever it comes from (replication, read repair,
//     rebalancing, hand-over), replaces another only if it is newer. Copies
//     converge on one whole value, the newest a coordinator accepted.
//   - Delete writes a tombstone, the newest version, kept until the deleted
//     session would have expired (and a minute longer, for clocks that
//     differ), and at least 24 hours, for copies out of reach: by then every
//     copy of the old value has expired too, so a deleted session never
//     comes back, whichever copy survives where.
//   - Web sessions have a memory budget of their own (Config.WebMaxBytes),
//     so a flood of TLS handshakes can never push one out.
//
// Keys are 1 to 255 bytes. Values are at most MaxWebValue bytes; a larger
// one is an error (ErrTooLarge), never cut short. A call whose context has
// no deadline gets 5 seconds; one whose context ends fails with its error.
// Web sessions live in memory only: stopping every member at once loses
// them all. Until the store has read the membership (New returns before it
// has; sessionmesh.Start waits), a call that needs the cluster fails with
// ErrUnavailable. A WebSessions is safe for concurrent use. A nil
// *WebSessions (what a member without a store hands out) fails every call
// with an error that says so.
type WebSessions struct {
	s     *Store
	locks [256]sync.Mutex // a write's coordination, by key: one version at a time per key here
	seed  maphash.Seed
}

// WebSessions returns the store's space for web sessions.
func (s *Store) WebSessions() *WebSessions { return s.webSessions }

// ErrDeleted is Commit's error for a session that was deleted (a logout, a
// renewed token) after the caller read it: the delete stands, the write is
// dropped.
var ErrDeleted = errors.New("store: the web session was deleted")

// errNoStore is what a nil *WebSessions answers: what a member without a
// store (sessionmesh's Tickets mode) hands out.
var errNoStore = errors.New("store: no web sessions here: this member has no session store " +
	"(a sessionmesh member in Tickets mode); web sessions need Mode Cache")

// webTimeout bounds a web session call whose context has no deadline.
const webTimeout = 5 * time.Second

// tombstoneMargin is how long a tombstone outlives the session it deleted:
// members' clocks may differ by this much before a copy of the old value
// could outlive it.
const tombstoneMargin = time.Minute

// unknownLifetime is the least a tombstone lives, whatever the copies its
// coordinator saw: a copy out of reach (a session whose every copy was cut
// off, or a write that failed but reached a member cut off) may be newer and
// live longer than those. Long enough for it to have expired, for sessions
// that live no longer than this.
const unknownLifetime = 24 * time.Hour

// Find returns the value of the web session under key, and whether there is
// one. A deleted or expired session is not found. It fails if no member that
// may hold it answers (or ctx ends first): the caller's user must not be
// told their session is gone when it is only out of reach.
func (w *WebSessions) Find(ctx context.Context, key string) ([]byte, bool, error) {
	value, _, found, err := w.Lookup(ctx, key)
	return value, found, err
}

// Lookup is Find that also returns when the session expires, the time its
// last Commit gave: for callers that report a time to live (a Redis TTL).
func (w *WebSessions) Lookup(ctx context.Context, key string) (value []byte, expires time.Time, found bool, err error) {
	if w == nil {
		return nil, time.Time{}, false, errNoStore
	}
	if w.s.isClosed() {
		return nil, time.Time{}, false, ErrClosed
	}
	if err := checkKey(key); err != nil {
		return nil, time.Time{}, false, err
	}
	parent := ctx
	ctx, cancel := bounded(ctx)
	defer cancel()
	w.s.stats.webFinds.Add(1)
	e, found, err := w.read(ctx, key)
	if err != nil {
		return nil, time.Time{}, false, w.failed(parent, err)
	}
	if !found || e.deleted || !e.expires.After(w.s.cfg.Now()) {
		return nil, time.Time{}, false, nil
	}
	w.s.stats.webFound.Add(1)
	return e.value, e.expires, true, nil
}

// Commit stores value as the web session under key until expires, on
// Replicas members, and returns once they have it. An expiry that has
// passed deletes the session. A session that was deleted stays deleted:
// Commit then fails with ErrDeleted (a request that read the session before
// a logout, writing it back after). It fails if fewer members could take it
// before ctx ended (the write may still have reached some: a later Commit or
// Delete overrides it, as every later write does).
func (w *WebSessions) Commit(ctx context.Context, key string, value []byte, expires time.Time) error {
	return w.put(ctx, key, change{value: value, expires: expires})
}

// Set is Commit that writes over a deleted session too, as a Redis SET
// after a DEL does: for values under keys that are used again after a
// delete, which session tokens never are (the sidecar's Redis SET).
func (w *WebSessions) Set(ctx context.Context, key string, value []byte, expires time.Time) error {
	return w.put(ctx, key, change{value: value, expires: expires, recreate: true})
}

func (w *WebSessions) put(ctx context.Context, key string, c change) error {
	if w == nil {
		return errNoStore
	}
	if w.s.isClosed() {
		return ErrClosed
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if len(c.value) > MaxWebValue {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(c.value))
	}
	if !c.expires.After(w.s.cfg.Now()) {
		return w.Delete(ctx, key) // expired already: as good as deleted
	}
	bctx, cancel := bounded(ctx)
	defer cancel()
	return w.count(ctx, &w.s.stats.webCommits, w.write(bctx, key, c))
}

// count counts a write's outcome: in done if it succeeded, else as an error.
func (w *WebSessions) count(parent context.Context, done *atomic.Uint64, err error) error {
	if err != nil {
		return w.failed(parent, err)
	}
	done.Add(1)
	return nil
}

// failed counts a call that failed, unless the caller gave up on it (its
// context ended: a client that went away is no error of the cluster's), and
// says so in the error it returns.
func (w *WebSessions) failed(parent context.Context, err error) error {
	if errors.Is(err, ErrDeleted) {
		return err // the caller's stale write, not the cluster's failure
	}
	if parent.Err() != nil {
		if !errors.Is(err, parent.Err()) {
			err = fmt.Errorf("%w (%w)", parent.Err(), err)
		}
		return err
	}
	w.s.stats.webErrors.Add(1)
	return err
}

// why says why the members a call needed did not answer: their errors, or
// the call's context, or that there was no connection to ask them on.
func why(ctx context.Context, errs []error) error {
	switch {
	case len(errs) > 0:
		return errors.Join(errs...)
	case ctx.Err() != nil:
		return context.Cause(ctx)
	default:
		return errors.New("no data connection to any of them")
	}
}

// checkKey checks a web session's key.
func checkKey(key string) error {
	if key == "" || len(key) > peer.MaxKey {
		return fmt.Errorf("store: web session key of %d bytes; want 1 to %d", len(key), peer.MaxKey)
	}
	return nil
}

// Delete deletes the web session under key, everywhere, for good: it writes
// a tombstone on Replicas members, which outlasts every copy of the session.
func (w *WebSessions) Delete(ctx context.Context, key string) error {
	if w == nil {
		return errNoStore
	}
	if w.s.isClosed() {
		return ErrClosed
	}
	if err := checkKey(key); err != nil {
		return err
	}
	bctx, cancel := bounded(ctx)
	defer cancel()
	return w.count(ctx, &w.s.stats.webDeletes, w.write(bctx, key, change{deleted: true}))
}

// bounded gives ctx the default deadline of web session calls if it has
// none. Web session calls wait for members that are only slow (peer.Patient): a
// flood of handshakes whose lookups time out must not turn them away.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = peer.Patient(ctx)
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, webTimeout)
}

// change is a write a caller asks for, before a coordinator versions it.
type change struct {
	value    []byte
	expires  time.Time
	deleted  bool
	recreate bool // write over a tombstone (Set)
}

// The change travels to a coordinator as an entry without a version.
func (c change) encode() []byte {
	return (&entry{deleted: c.deleted, expires: c.expires, value: c.value, recreated: c.recreate}).encode()
}

func decodeChange(b []byte) (change, error) {
	e, err := decodeEntry(b)
	return change{value: e.value, expires: e.expires, deleted: e.deleted, recreate: e.recreated}, err
}

// preference returns the members a key's copies belong on, in ring order:
// its owners first, then the members after them, who stand in for owners
// that are out of reach.
func (w *WebSessions) preference(v *view, key string) []string {
	if v.ring == nil || v.ring.Len() == 0 {
		return []string{w.s.self}
	}
	return v.ring.Owners(key, v.ring.Len())
}

// copies returns how many members a write must reach.
func (w *WebSessions) copies(v *view) int {
	return max(1, min(w.s.cfg.Replicas, v.ring.Len()))
}

// unplaced reports ErrUnavailable while the store has no ring yet (New
// returns before it has read the membership): it cannot tell who holds a
// session, and a miss here would say that none exists.
func unplaced(v *view) error {
	if v.ring == nil {
		return fmt.Errorf("%w: this member has not read the cluster's membership yet", ErrUnavailable)
	}
	return nil
}

// write finds a coordinator for the change, itself or the first member of
// the key's preference list that answers, and has it coordinate.
func (w *WebSessions) write(ctx context.Context, key string, c change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: web session not written: %w", context.Cause(ctx))
	}
	v := w.s.view.Load()
	var errs []error
	for _, name := range w.preference(v, key) {
		if name == w.s.self {
			if w.s.leaving.Load() {
				continue // what it stores now would leave with it
			}
			return w.coordinate(ctx, key, c)
		}
		cl := v.clients[name]
		if cl == nil {
			continue
		}
		resp, err := cl.Do(ctx, &peer.Request{Op: peer.OpWebCommit, Key: key, Value: c.encode()})
		switch {
		case err == nil && resp.Status == peer.StatusOK:
			return nil
		case err == nil && resp.Status == peer.StatusShort:
			return fmt.Errorf("%w: %s", ErrUnavailable, resp.Value)
		case err == nil && resp.Status == peer.StatusNewer:
			return ErrDeleted
		case err == nil:
			errs = append(errs, fmt.Errorf("%s: %v", name, resp.Status))
		default:
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("%w: no member could coordinate the write: %w", ErrUnavailable, why(ctx, errs))
}

// coordinate versions a change and stores it here and on enough other
// members of the key's preference list to make Replicas copies. Writes of
// one key coordinated here take turns, so each gets a version of its own.
func (w *WebSessions) coordinate(ctx context.Context, key string, c change) error {
	mu := &w.locks[maphash.String(w.seed, key)%uint64(len(w.locks))]
	mu.Lock()
	defer mu.Unlock()
	s := w.s
	now := s.cfg.Now()
	e := entry{deleted: c.deleted, expires: c.expires, value: c.value, recreated: c.recreate}
	known := time.Time{} // the latest expiry of a copy seen, for a tombstone
	base := version{}
	if held, _, ok := s.web.mem.peek(key, now); ok {
		if h, err := decodeHeader(held); err == nil {
			if h.deleted && !c.deleted && !c.recreate {
				return ErrDeleted // a write of what was deleted, not a recreation
			}
			base, known = h.version, h.expires
		}
	}
	v := s.view.Load()
	if err := unplaced(v); err != nil {
		return err
	}
	need := w.copies(v) - 1
	for attempt := 0; ; attempt++ {
		// One more than the newest copy known, and no less than the time in
		// milliseconds: a coordinator that cannot reach a newer copy (it is
		// behind a partition) still orders its write after those made
		// earlier, as long as members' clocks agree to well within the time
		// between two writes of one session.
		e.version = version{counter: max(base.counter+1, uint64(now.UnixMilli())), writer: w.writer()}
		if c.deleted {
			// At least a day, and as long as any copy it saw: a write of
			// this session that failed may have reached only members out of
			// reach now, newer than every copy seen here and living longer.
			e.expires = now.Add(unknownLifetime)
			if k := known.Add(tombstoneMargin); k.After(e.expires) {
				e.expires = k
			}
		}
		val := e.encode()
		took, newer, err := w.replicate(ctx, v, key, val, need)
		if newer != nil && newer.deleted && !c.deleted && !c.recreate {
			// The session was deleted; this write read it before. The
			// tombstone goes here, and where the write went before it was
			// turned down, now (within the call's time), before the caller
			// hears so: until it lands there, those members answer reads
			// with the refused value. What does not get through is retried.
			tomb := newer.encode()
			s.store(s.web, key, tomb)
			if failed := s.send(ctx, s.web, key, tomb, took, &s.stats.repaired); len(failed) > 0 {
				s.pending.add(s.web, key, failed, false, s.cfg.retryBase)
			}
			w.place(v, key, took)
			return ErrDeleted
		}
		if newer != nil && newer.version.compare(e.version) >= 0 && attempt < 4 {
			// Another member holds a later write this one missed (it was
			// out of reach, or is new here): version above it, and try again.
			base = newer.version
			if newer.expires.After(known) {
				known = newer.expires
			}
			continue
		}
		if _, _, err := s.store(s.web, key, val); err != nil {
			return err
		}
		w.place(v, key, took)
		if len(took) < need {
			return fmt.Errorf("%w: the write reached %d of the %d members it needs: %v", ErrUnavailable, len(took)+1, need+1, err)
		}
		return nil
	}
}

// place sees to a copy of key this coordinator has just stored by view v,
// which the members in took took too: owners that did not take it (out of
// reach: a stand-in did) get it later, as a failed replica copy does; a
// coordinator standing in for an owner drops its copy once the owners have
// it.
func (w *WebSessions) place(v *view, key string, took []string) {
	s := w.s
	var missing []string
	for _, o := range others(v.placement(key), s.self) {
		if !slices.Contains(took, o) {
			missing = append(missing, o)
		}
	}
	if stray := !v.holds(key); len(missing) > 0 || stray {
		s.pending.add(s.web, key, missing, stray, s.cfg.retryBase)
	}
	s.recheck(s.web, key, v)
}

// writer identifies this member in the versions it makes.
func (w *WebSessions) writer() uint64 { return xxhash.Sum64String(w.s.self) }

// replicate offers val to need members of key's preference list other than
// this one, going down the list past those that do not answer. It returns
// those that took it, the newest copy any of them holds instead (if newer
// than val; its version and expiry, not its value), and why the others did
// not.
func (w *WebSessions) replicate(ctx context.Context, v *view, key string, val []byte, need int) (took []string, newer *entry, err error) {
	var errs []error
	var mu sync.Mutex // guards took, newer and errs
	pending := others(w.preference(v, key), w.s.self)
	for len(took) < need && len(pending) > 0 && ctx.Err() == nil {
		batch := pending[:min(need-len(took), len(pending))]
		pending = pending[len(batch):]
		var calls []func()
		for _, name := range batch {
			cl := v.clients[name]
			if cl == nil {
				continue
			}
			calls = append(calls, func() {
				resp, err := cl.Do(ctx, &peer.Request{Op: peer.OpWebPut, Key: key, Value: val, Ring: v.id})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && resp.Status == peer.StatusOK:
					took = append(took, name)
				case err == nil && resp.Status == peer.StatusNewer:
					if e, derr := decodeHeader(resp.Value); derr == nil && (newer == nil || e.supersedes(*newer)) {
						newer = &e
					}
				case err == nil:
					errs = append(errs, fmt.Errorf("%s: %v", name, resp.Status))
				default:
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
				}
			})
		}
		fanOut(calls)
		if newer != nil {
			break
		}
	}
	return took, newer, errors.Join(errs...)
}

// read asks the first Replicas members of key's preference list that answer
// (this one first, if it is among them) and returns the newest copy, and
// whether any member holds one. Members whose copy is older, or who have
// none, get the newest (read repair).
func (w *WebSessions) read(ctx context.Context, key string) (entry, bool, error) {
	s := w.s
	v := s.view.Load()
	if err := unplaced(v); err != nil {
		return entry{}, false, err
	}
	need := w.copies(v)
	type answer struct {
		name string
		e    entry
		ok   bool // holds a copy
	}
	var answers []answer
	var older []string // members that answered that they know no web sessions
	var errs []error
	var mu sync.Mutex // guards answers, older and errs
	asked := map[string]bool{}
	ask := func(batch []string) {
		var calls []func()
		for _, name := range batch {
			asked[name] = true
			if name == s.self {
				a := answer{name: name}
				if held, _, ok := s.web.mem.peek(key, s.cfg.Now()); ok {
					a.e, a.ok = mustDecode(held)
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				continue
			}
			cl := v.clients[name]
			if cl == nil {
				continue
			}
			calls = append(calls, func() {
				resp, err := cl.Do(ctx, &peer.Request{Op: peer.OpWebGet, Key: key})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && resp.Status == peer.StatusOK:
					a := answer{name: name}
					a.e, a.ok = mustDecode(resp.Value)
					answers = append(answers, a)
				case err == nil && resp.Status == peer.StatusNotFound:
					answers = append(answers, answer{name: name})
				case err == nil && resp.Status == peer.StatusInvalid:
					// A member of a version before web sessions: it holds
					// none, and writes pass it by as this read does.
					older = append(older, name)
				case err == nil:
					errs = append(errs, fmt.Errorf("%s: %v", name, resp.Status))
				default:
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
				}
			})
		}
		fanOut(calls)
	}
	// The first Replicas members of the preference list that answer...
	pref := w.preference(v, key)
	for len(answers) < need && len(pref) > 0 && ctx.Err() == nil {
		batch := pref[:min(need-len(answers), len(pref))]
		pref = pref[len(batch):]
		ask(batch)
	}
	// ...and if none of them holds a copy, the key's owners on the earlier
	// rings: after a change, the members that held it may not have handed it
	// to its new owners yet.
	if !slices.ContainsFunc(answers, func(a answer) bool { return a.ok }) && ctx.Err() == nil {
		var past []string
		for _, o := range v.owners(key) {
			if !asked[o] {
				past = append(past, o)
			}
		}
		ask(past)
	}
	// Fewer answers than a write makes copies, and the newest copy may be
	// on a member that did not answer: a deleted session's old value, say,
	// on the one member that missed the delete. Better no answer than that.
	if len(answers) < need {
		return entry{}, false, fmt.Errorf("%w: %d of the %d members a read needs answered: %w", ErrUnavailable, len(answers), need, why(ctx, errs))
	}
	var best *answer
	for i := range answers {
		if answers[i].ok && (best == nil || answers[i].e.supersedes(best.e)) {
			best = &answers[i]
		}
	}
	if best == nil {
		// Nobody holds a copy. That says the session does not exist only if
		// one of its owners said so: a write reaches the first owners it
		// can, so a stand-in that has none says nothing when every owner
		// was out of reach (with Replicas 1, the owner).
		owners := v.placement(key)
		spoke := func(name string) bool {
			return slices.Contains(older, name) || slices.ContainsFunc(answers, func(a answer) bool { return a.name == name })
		}
		if !slices.ContainsFunc(owners, spoke) && len(owners) > 0 {
			return entry{}, false, fmt.Errorf("%w: none of the web session's owners answered: %w", ErrUnavailable, why(ctx, errs))
		}
		return entry{}, false, nil
	}
	// Repair the owners that answered with an older copy or none; not the
	// stand-ins asked in place of owners out of reach, which would keep
	// the copy for good.
	var stale []string
	owners := v.placement(key)
	for _, a := range answers {
		if (!a.ok || best.e.supersedes(a.e)) && (len(owners) == 0 || slices.Contains(owners, a.name)) {
			stale = append(stale, a.name)
		}
	}
	if len(stale) > 0 {
		val := best.e.encode()
		if i := indexOf(stale, s.self); i >= 0 {
			s.store(s.web, key, val)
			s.recheck(s.web, key, v) // the ring may have moved on since v
			stale = append(stale[:i], stale[i+1:]...)
		}
		s.copy(s.web, key, val, stale, &s.stats.repaired)
	}
	return best.e, true, nil
}

// fanOut makes the calls at once, the last on this goroutine and the others
// on goroutines of their own, and returns when all have returned. With
// Replicas 2 a batch is usually one call, which then costs no goroutine:
// starting one, growing its stack through the TLS write and waking the
// caller cost more than the work around the round trip.
func fanOut(calls []func()) {
	if len(calls) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, call := range calls[:len(calls)-1] {
		wg.Go(call)
	}
	calls[len(calls)-1]()
	wg.Wait()
}

func mustDecode(b []byte) (entry, bool) {
	e, err := decodeEntry(b)
	return e, err == nil
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}
