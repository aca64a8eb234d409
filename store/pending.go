package store

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// maxPending bounds the records waiting to be copied again; beyond it a
// failed copy is dropped and counted (Stats.CopiesDropped), which leaves the
// record with a copy fewer until a rebalance or a read repairs it.
const maxPending = 1 << 16

// pending holds the copies that did not get through: a replica a member did
// not take (it was down, partitioned away, leaving), a record a rebalance
// could not hand over, a record this node holds without owning it. The
// retrier sends them again, backing off, to the members that are still
// their owners, until they take them; a record to be dropped here goes
// once every owner has it.
type pending struct {
	mu       sync.Mutex // guards entries and inflight
	entries  map[pendingKey]*retry
	inflight int    // retries taken by due and not yet finished
	dropped  func() // counts a copy dropped for want of room
}

// pendingKey names a record: the same ID in two spaces is two records.
type pendingKey struct {
	sp *space
	id string
}

// retry is one record's copies still to make.
type retry struct {
	to   map[string]bool // members that have not taken it; nil: every owner on the ring
	drop bool            // this node does not own it: drop it once its owners have it
	wait time.Duration   // until the attempt after next
	next time.Time
}

// add records that id is still to reach the members in to (every owner, if
// to is nil), and whether this node is to drop it then. The first retry is
// after first.
func (p *pending) add(sp *space, id string, to []string, drop bool, first time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries == nil {
		p.entries = make(map[pendingKey]*retry)
	}
	key := pendingKey{sp, id}
	r, ok := p.entries[key]
	if !ok {
		if len(p.entries) >= maxPending {
			p.dropped()
			return
		}
		r = &retry{wait: first, next: time.Now().Add(first)}
		p.entries[key] = r
	}
	r.drop = r.drop || drop
	if to == nil {
		r.to = nil
		return
	}
	if r.to == nil && ok {
		return // already every owner
	}
	if r.to == nil {
		r.to = make(map[string]bool)
	}
	for _, name := range to {
		r.to[name] = true
	}
}

// due removes and returns the retries whose time has come; they count as
// waiting until finished says they are done.
func (p *pending) due(now time.Time) map[pendingKey]*retry {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[pendingKey]*retry)
	for id, r := range p.entries {
		if !now.Before(r.next) {
			out[id] = r
			delete(p.entries, id)
		}
	}
	p.inflight += len(out)
	return out
}

// finished records that n retries returned by due are done (or back).
func (p *pending) finished(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight -= n
}

// again puts r back, to be tried after twice the wait, at most max.
func (p *pending) again(key pendingKey, r *retry, max time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.entries[key]; ok { // a new failure meanwhile: merge
		old.drop = old.drop || r.drop
		if old.to != nil {
			if r.to == nil {
				old.to = nil
			} else {
				maps.Copy(old.to, r.to)
			}
		}
		return
	}
	r.wait = min(2*r.wait, max)
	r.next = time.Now().Add(r.wait)
	p.entries[key] = r
}

// hurry makes the retries that wait for member name due now.
func (p *pending) hurry(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for _, r := range p.entries {
		if r.to == nil || r.drop || r.to[name] {
			r.next = now
		}
	}
}

// hurry sends what waits for member name now: it is back, after failing.
// Copies made while it was out of reach (a web session write a stand-in
// took for it) reach it before readers who ask it miss them for long.
func (s *Store) hurry(name string) {
	s.pending.hurry(name)
	select {
	case s.retryNow <- struct{}{}:
	default:
	}
}

// size returns how many records wait, or are being sent again now.
func (p *pending) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries) + p.inflight
}

// retrier sends the pending copies when they are due, until the store stops.
func (s *Store) retrier() {
	t := time.NewTicker(max(s.cfg.retryBase/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.retryNow:
		}
		due := s.pending.due(time.Now())
		for key, r := range due {
			if s.isClosed() {
				return
			}
			s.retry(key, r)
		}
		s.pending.finished(len(due))
	}
}

// retry sends one record again to those of its members that are still its
// owners on the current ring.
func (s *Store) retry(key pendingKey, r *retry) {
	sp, id := key.sp, key.id
	val, _, ok := sp.mem.peek(id, s.cfg.Now())
	if !ok {
		return // expired, evicted or deleted meanwhile
	}
	v := s.view.Load()
	owners := v.placement(id)
	if s.leaving.Load() {
		return // Leave hands everything over itself
	}
	if slices.Contains(owners, s.self) {
		r.drop = false // it belongs here after all (the ring changed)
	}
	var to []string
	for _, o := range others(owners, s.self) {
		// A record to be dropped here goes to every owner: the ring may have
		// changed since, and who has it is not known.
		if r.drop || r.to == nil || r.to[o] {
			to = append(to, o)
		}
	}
	if len(to) > 0 {
		failed := s.send(s.ctx, sp, id, val, to, &s.stats.repaired)
		if len(failed) > 0 {
			r.to = make(map[string]bool)
			for _, name := range failed {
				r.to[name] = true
			}
			s.pending.again(key, r, 10*s.cfg.retryBase)
			return
		}
	}
	if r.drop && len(owners) > 0 && !sp.mem.deleteIf(id, val) {
		// Another copy came meanwhile: it is to be placed too.
		s.pending.add(sp, id, nil, true, s.cfg.retryBase)
	}
}
