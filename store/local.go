package store

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/store/internal/shard"
)

// local is this node's memory: the byte budget split over stripes, each a
// shard behind its own lock, so that concurrent handshakes rarely wait for
// each other and a scan of every key pauses one stripe at a time.
type local struct {
	seed    maphash.Seed
	stripes []stripe
}

type stripe struct {
	mu sync.Mutex // guards s
	s  *shard.Shard
}

// stripeBytes is the least budget a stripe gets: below it, stripes would
// make least-recently-used eviction too coarse to be worth the concurrency.
const stripeBytes = 4 << 20

func newLocal(budget int64) *local {
	n := 1
	for n < 16 && budget/int64(2*n) >= stripeBytes {
		n *= 2
	}
	l := &local{seed: maphash.MakeSeed(), stripes: make([]stripe, n)}
	for i := range l.stripes {
		l.stripes[i].s = shard.New(budget / int64(n))
	}
	return l
}

func (l *local) stripe(id string) *stripe {
	return &l.stripes[maphash.String(l.seed, id)&uint64(len(l.stripes)-1)]
}

func (l *local) put(id string, val []byte, expires, now time.Time, keep bool) bool {
	st := l.stripe(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.s.Put(id, val, expires, now, keep)
}

// putIf stores val under id unless newer is set and reports that the copy
// held is to stay (it is newer than val). It returns whether val is stored,
// the copy held if that one stays, and whether val fits at all.
func (l *local) putIf(id string, val []byte, expires, now time.Time, keep bool, newer func(val, old []byte) bool) (stored bool, held []byte, fit bool) {
	st := l.stripe(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	if newer != nil {
		if old, _, ok := st.s.Peek(id, now); ok && !newer(val, old) {
			return false, old, true
		}
	}
	if !st.s.Put(id, val, expires, now, keep) {
		return false, nil, false
	}
	return true, nil, true
}

func (l *local) get(id string, now time.Time) (val []byte, ok, expired bool) {
	st := l.stripe(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.s.Get(id, now)
}

func (l *local) peek(id string, now time.Time) ([]byte, time.Time, bool) {
	st := l.stripe(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.s.Peek(id, now)
}

func (l *local) delete(id string) {
	st := l.stripe(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Delete(id)
}

// deleteIf drops the record under id if it is still val, the very copy
// the caller read (not merely the same bytes): a copy stored meanwhile
// stays, a newer one (a web session rewritten) and an identical one alike.
// An identical one is another member handing the record back: one that
// took it from this node and then left, say, which makes this node its
// owner again before this node's view says so. It reports false only if
// another copy replaced val (true if it dropped val or none is held).
func (l *local) deleteIf(id string, val []byte) bool {
	st := l.stripe(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	cur, _, ok := st.s.Peek(id, time.Unix(0, 0))
	if !ok {
		return true
	}
	if sameCopy(cur, val) {
		st.s.Delete(id)
		return true
	}
	return false
}

// sameCopy reports whether a and b are one slice, not two equal ones.
func sameCopy(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// keys returns every key held, one stripe at a time.
func (l *local) keys() []string {
	var ks []string
	for i := range l.stripes {
		st := &l.stripes[i]
		st.mu.Lock()
		ks = st.s.Keys(ks)
		st.mu.Unlock()
	}
	return ks
}

func (l *local) expire(now time.Time) int {
	n := 0
	for i := range l.stripes {
		st := &l.stripes[i]
		st.mu.Lock()
		n += st.s.Expire(now)
		st.mu.Unlock()
	}
	return n
}

// usage sums the stripes' gauges and counters.
func (l *local) usage() (sessions int, bytes int64, evictions, expirations uint64) {
	for i := range l.stripes {
		st := &l.stripes[i]
		st.mu.Lock()
		sessions += st.s.Len()
		bytes += st.s.Bytes()
		evictions += st.s.Evictions
		expirations += st.s.Expirations
		st.mu.Unlock()
	}
	return
}
