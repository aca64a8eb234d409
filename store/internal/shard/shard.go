// Package shard is the local part of the session store: a map from key to
// value in which every entry has an expiry time, and the whole holds at most a
// byte budget. When a new entry does not fit, expired entries go first, then
// the least recently used of the ordinary ones, and only then the least
// recently used of the kept ones (Put's keep): a segmented LRU, so that a
// flood of entries nobody will ask for again cannot push out those that
// matter.
//
// A Shard has no goroutines and no clock: the caller passes the time to every
// call and holds a lock around it (see store). The budget counts what entries
// really cost in memory, map and bookkeeping included, not just the length of
// key and value (see Cost).
//
// Why not golang/groupcache's lru: it bounds the number of entries, not bytes,
// has no expiry, and keys are interface{} values (an allocation per lookup).
package shard

import (
	"container/heap"
	"strings"
	"time"
)

// Shard is an expiring, byte-bounded LRU map. The zero value is not usable;
// call New. A Shard is not safe for concurrent use.
type Shard struct {
	budget int64
	used   int64
	items  map[string]*entry
	lru    [2]entry   // sentinels of circular lists, ordinary [0] and kept [1]; next is the most recently used
	expiry expiryHeap // entries by expiry time, soonest first

	// Counters since New.
	Evictions   uint64 // entries dropped to make room while still valid
	Expirations uint64 // entries dropped because their time had come
}

type entry struct {
	key        string
	value      []byte
	expires    int64  // unix nanoseconds
	cost       int64  // Cost(key, value), cached
	kept       bool   // in the kept list: evicted only when no ordinary entry is left
	prev, next *entry // LRU list
	index      int    // position in the expiry heap
}

// New returns an empty shard that holds at most budget bytes (see Cost).
func New(budget int64) *Shard {
	s := &Shard{budget: budget, items: make(map[string]*entry)}
	for i := range s.lru {
		s.lru[i].prev, s.lru[i].next = &s.lru[i], &s.lru[i]
	}
	return s
}

// Put stores value under key until expires, replacing any entry with the same
// key, and makes room by dropping expired entries, then the least recently
// used ordinary ones, then the least recently used kept ones. A kept entry
// (keep) is one worth more than the others: in the store, the session of a
// client that came back. Put reports false, storing nothing, if the entry
// alone exceeds the budget or has already expired. The shard keeps value;
// the caller must not change it afterwards.
func (s *Shard) Put(key string, value []byte, expires, now time.Time, keep bool) bool {
	cost := Cost(len(key), len(value))
	exp := expires.UnixNano()
	if cost > s.budget || exp <= now.UnixNano() {
		s.Delete(key)
		return false
	}
	if e, ok := s.items[key]; ok {
		s.used += cost - e.cost
		e.value, e.cost, e.expires = value, cost, exp
		heap.Fix(&s.expiry, e.index)
		e.prev.next, e.next.prev = e.next, e.prev
		e.kept = e.kept || keep
		s.pushFront(e)
	} else {
		// Clone the key: it may point into a larger buffer we must not retain.
		e := &entry{key: strings.Clone(key), value: value, expires: exp, cost: cost, kept: keep}
		s.items[e.key] = e
		s.used += cost
		heap.Push(&s.expiry, e)
		s.pushFront(e)
	}
	s.shrink(now)
	return true
}

// Get returns the value stored under key and marks it recently used. An
// entry whose time has come is not returned but reported expired, rather
// than merely missing, so that callers can tell a client why; it stays
// until Expire drops it (or room is needed), and says so each time.
func (s *Shard) Get(key string, now time.Time) (value []byte, ok, expired bool) {
	e, found := s.items[key]
	switch {
	case !found:
		return nil, false, false
	case e.expires <= now.UnixNano():
		return nil, false, true
	}
	s.touch(e)
	return e.value, true, false
}

// Peek returns the value and expiry stored under key without marking it
// used; an expired entry is reported missing (and left for Expire).
func (s *Shard) Peek(key string, now time.Time) ([]byte, time.Time, bool) {
	e, ok := s.items[key]
	if !ok || e.expires <= now.UnixNano() {
		return nil, time.Time{}, false
	}
	return e.value, time.Unix(0, e.expires), true
}

// Keys appends the keys of all entries, expired ones included, to dst.
func (s *Shard) Keys(dst []string) []string {
	for k := range s.items {
		dst = append(dst, k)
	}
	return dst
}

// Delete drops the entry under key and reports whether there was one.
func (s *Shard) Delete(key string) bool {
	e, ok := s.items[key]
	if ok {
		s.remove(e)
	}
	return ok
}

// Expire drops every entry whose time has come and returns how many.
func (s *Shard) Expire(now time.Time) int {
	n := 0
	for len(s.expiry) > 0 && s.expiry[0].expires <= now.UnixNano() {
		s.remove(s.expiry[0])
		n++
	}
	s.Expirations += uint64(n)
	return n
}

// Range calls fn for each valid entry, the kept ones first, most recently
// used first, until fn returns false. It does not change recency. fn must not
// modify the shard.
func (s *Shard) Range(now time.Time, fn func(key string, value []byte, expires time.Time) bool) {
	for _, i := range []int{1, 0} {
		for e := s.lru[i].next; e != &s.lru[i]; e = e.next {
			if e.expires > now.UnixNano() && !fn(e.key, e.value, time.Unix(0, e.expires)) {
				return
			}
		}
	}
}

// Len returns the number of entries, expired ones not yet dropped included.
func (s *Shard) Len() int { return len(s.items) }

// Bytes returns the memory the entries cost, by Cost.
func (s *Shard) Bytes() int64 { return s.used }

// Budget returns the most bytes the shard holds.
func (s *Shard) Budget() int64 { return s.budget }

// shrink drops entries until the shard fits its budget: expired ones first,
// because they are worthless, then the least recently used ordinary ones,
// then the least recently used kept ones.
func (s *Shard) shrink(now time.Time) {
	for s.used > s.budget && len(s.expiry) > 0 && s.expiry[0].expires <= now.UnixNano() {
		s.remove(s.expiry[0])
		s.Expirations++
	}
	for s.used > s.budget {
		list := &s.lru[0]
		if list.prev == list {
			list = &s.lru[1]
		}
		s.remove(list.prev)
		s.Evictions++
	}
}

func (s *Shard) remove(e *entry) {
	delete(s.items, e.key)
	heap.Remove(&s.expiry, e.index)
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	s.used -= e.cost
}

func (s *Shard) pushFront(e *entry) {
	list := &s.lru[0]
	if e.kept {
		list = &s.lru[1]
	}
	e.prev, e.next = list, list.next
	list.next.prev = e
	list.next = e
}

func (s *Shard) touch(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	s.pushFront(e)
}

// expiryHeap is a container/heap of entries ordered by expiry time.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
