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
	mu      sync.Mutex // guards entries
	entries map[string]*retry
	dropped func() // counts a copy dropped for want of room
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
func (p *pending) add(id string, to []string, drop bool, first time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries == nil {
		p.entries = make(map[string]*retry)
	}
	r, ok := p.entries[id]
	if !ok {
		if len(p.entries) >= maxPending {
			p.dropped()
			return
		}
		r = &retry{wait: first, next: time.Now().Add(first)}
		p.entries[id] = r
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

// due removes and returns the retries whose time has come.
func (p *pending) due(now time.Time) map[string]*retry {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]*retry)
	for id, r := range p.entries {
		if !now.Before(r.next) {
			out[id] = r
			delete(p.entries, id)
		}
	}
	return out
}

// again puts r back, to be tried after twice the wait, at most max.
func (p *pending) again(id string, r *retry, max time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.entries[id]; ok { // a new failure meanwhile: merge
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
	p.entries[id] = r
}

// size returns how many records wait.
func (p *pending) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
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
		}
		for id, r := range s.pending.due(time.Now()) {
			if s.isClosed() {
				return
			}
			s.retry(id, r)
		}
	}
}

// retry sends one record again to those of its members that are still its
// owners on the current ring.
func (s *Store) retry(id string, r *retry) {
	val, _, ok := s.mem.peek(id, s.cfg.Now())
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
		failed := s.send(id, val, to, &s.stats.repaired)
		if len(failed) > 0 {
			r.to = make(map[string]bool)
			for _, name := range failed {
				r.to[name] = true
			}
			s.pending.again(id, r, 30*s.cfg.retryBase)
			return
		}
	}
	if r.drop && len(owners) > 0 {
		s.mem.delete(id)
	}
}
