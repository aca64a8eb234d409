package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/sessionmesh/sessionmesh/store/internal/peer"
	"github.com/sessionmesh/sessionmesh/store/internal/ring"
)

// Records travel to other members in the background: replicas of a new
// record, records whose owners changed with the ring (rebalance), records a
// member received but does not own (strays), and records a leaving node
// hands over (Leave). A copy that a member does not take is retried (see
// pending.go) until it is taken, the member is no longer an owner, or the
// record is gone.

const (
	copyQueue   = 8192            // replication tasks waiting; more are dropped and counted
	copyWorkers = 4               // goroutines sending them, each one request at a time
	copyTimeout = 2 * time.Second // per request
)

type copyTask struct {
	sp      *space
	id      string
	val     []byte
	to      []string // member names
	counter *atomic.Uint64
}

// copy queues val to be stored under id on the members in to, counting each
// record sent in counter. It never blocks: when the queue is full the copy
// goes to the retries instead (or, if they are full too, is dropped and
// counted).
func (s *Store) copy(sp *space, id string, val []byte, to []string, counter *atomic.Uint64) {
	if len(to) == 0 {
		return
	}
	s.stats.copiesPending.Add(1)
	select {
	case s.copies <- copyTask{sp, id, val, to, counter}:
	default:
		s.stats.copiesPending.Add(-1)
		s.pending.add(sp, id, to, false, s.cfg.retryBase)
	}
}

// copier sends queued copies until the store stops; copies a member did not
// take are retried later.
func (s *Store) copier() {
	for {
		select {
		case <-s.stop:
			return
		case t := <-s.copies:
			if failed := s.send(s.ctx, t.sp, t.id, t.val, t.to, t.counter); len(failed) > 0 {
				s.pending.add(t.sp, t.id, failed, false, s.cfg.retryBase)
			}
			s.stats.copiesPending.Add(-1)
		}
	}
}

// send stores val under id in space sp on each member in to, each request
// within copyTimeout and ctx, and returns those that did not take it. A
// member no longer on the ring did not; one that holds a newer copy (web
// sessions) did, in effect.
func (s *Store) send(ctx context.Context, sp *space, id string, val []byte, to []string, counter *atomic.Uint64) (failed []string) {
	v := s.view.Load()
	for _, name := range to {
		c := v.clients[name]
		if c == nil {
			failed = append(failed, name)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, copyTimeout)
		resp, err := c.Do(rctx, &peer.Request{Op: sp.putOp, Key: id, Value: val, Ring: v.id})
		cancel()
		if err != nil || (resp.Status != peer.StatusOK && resp.Status != peer.StatusNewer) {
			s.stats.copyErrors.Add(1)
			failed = append(failed, name)
			continue
		}
		if resp.Status == peer.StatusNewer && v.holds(id) {
			// Its copy is newer than ours (a write we missed): take it.
			s.store(sp, id, resp.Value)
		}
		counter.Add(1)
	}
	return failed
}

func (s *Store) kickRebalance() {
	select {
	case s.rebalance <- struct{}{}:
	default:
	}
}

// rebalancer moves records to their new owners after each ring change: one
// pass over the records, after which the ring is settled; records a new
// owner did not take go to the retries, so that only they are sent again.
func (s *Store) rebalancer() {
	for {
		select {
		case <-s.stop:
			return
		case <-s.rebalance:
		}
		v := s.view.Load()
		if v.from.ring == nil || s.leaving.Load() {
			continue
		}
		ctx, cancel := s.untilRingChanges(v.ring)
		start := time.Now()
		limit := rate.NewLimiter(rate.Limit(s.cfg.RebalanceRate), s.cfg.RebalanceRate/10+1)
		var res moved
		var err error
		for _, sp := range []*space{s.tls, s.web} {
			var r moved
			r, err = s.move(ctx, sp, v.placedBy(), v.ring, v.gone, limit, &s.stats.rebalanced, func(id string, failed []string, drop bool) {
				s.pending.add(sp, id, failed, drop, s.cfg.retryBase)
			})
			res.add(r)
			if err != nil {
				break
			}
		}
		cancel()
		if err == nil {
			s.settle(v.ring)
		}
		s.logger.Info("rebalance finished", "records_sent", res.sent, "records_to_retry", res.kept,
			"took", time.Since(start).Round(time.Millisecond), "interrupted", err != nil)
	}
}

// untilRingChanges returns a context canceled when the store stops or its
// ring is no longer r.
func (s *Store) untilRingChanges(r *ring.Ring) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(s.ctx)
	s.goroutine(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				cancel()
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if s.view.Load().ring != r {
					cancel()
					return
				}
			}
		}
	})
	return ctx, cancel
}

// moved is what one pass of move did.
type moved struct {
	records int // records looked at
	placed  int // of those, records every owner on the new ring now has (or that needed nothing)
	sent    int // copies sent
	kept    int // records kept because a new owner did not take them
}

func (m *moved) add(o moved) {
	m.records += o.records
	m.placed += o.placed
	m.sent += o.sent
	m.kept += o.kept
}

// move sends each record of space sp to the owners on ring to that may lack it,
// at most as fast as limit allows, counting each copy in counter.
//
// A record this node still holds on to goes to the owners on to that were
// not owners on every ring in placed (the rings by which this node may have
// placed records since its last settled ring): an owner that was one all
// along has had it all along, unless a copy to it failed and the member
// that was to retry it is gone (one of its owners left or restarted: then
// it goes to every owner); any other may not have it, whether the record was
// written under an intermediate ring or the owner is new. A record this
// node no longer holds goes to every owner on to, and is dropped only once
// they all have it, so that no guess about who holds what can lose it.
//
// A record some owner did not take is passed to failed, with those owners
// and whether it is to be dropped once they take it; the record stays here
// meanwhile. A record to be dropped that another copy replaced while it
// was sent is passed to failed too, with nil owners (every owner) and drop
// set, so that the copy that replaced it is placed in turn. move returns
// what it did, and ctx's error if it stopped early.
func (s *Store) move(ctx context.Context, sp *space, placed []*ring.Ring, to *ring.Ring, gone map[string]bool, limit *rate.Limiter, counter *atomic.Uint64,
	failed func(id string, owners []string, drop bool)) (moved, error) {
	replicas := s.cfg.Replicas
	var sent, kept, done atomic.Int64
	var wg sync.WaitGroup
	work := make(chan string)
	for range copyWorkers {
		wg.Go(func() {
			for id := range work {
				val, _, ok := sp.mem.peek(id, s.cfg.Now())
				if !ok {
					done.Add(1) // expired or evicted meanwhile: nothing to move
					continue
				}
				owners := to.Owners(id, replicas)
				// No owners at all (a ring with no members: this node
				// withdrew, and nobody else serves) is no place to hand
				// the record to: it stays.
				stays := len(owners) == 0 || slices.Contains(owners, s.self)
				targets := owners
				if stays && !ownedByGone(placed, to, gone, id, replicas) {
					targets = others(newHolders(placed, owners, id, replicas), s.self)
				} else if stays {
					targets = others(owners, s.self)
				}
				if len(targets) > 0 {
					if f := s.send(s.ctx, sp, id, val, targets, counter); len(f) > 0 {
						kept.Add(1)
						failed(id, f, !stays)
						continue
					}
				}
				sent.Add(int64(len(targets)))
				done.Add(1)
				if !stays && !sp.mem.deleteIf(id, val) {
					// Another copy came meanwhile (a newer write, or the
					// record handed back): it is to be placed too.
					failed(id, nil, true)
				}
			}
		})
	}
	var err error
	keys := sp.mem.keys()
	for _, id := range keys {
		if err = limit.Wait(ctx); err != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
	return moved{records: len(keys), placed: int(done.Load()), sent: int(sent.Load()), kept: int(kept.Load())}, err
}

// ownedByGone reports whether a member in gone owned id on a ring of placed
// (one that left) or on to (one that restarted under the same name).
func ownedByGone(placed []*ring.Ring, to *ring.Ring, gone map[string]bool, id string, replicas int) bool {
	if len(gone) == 0 {
		return false
	}
	for _, r := range append([]*ring.Ring{to}, placed...) {
		if slices.ContainsFunc(r.Owners(id, replicas), func(o string) bool { return gone[o] }) {
			return true
		}
	}
	return false
}

// newHolders returns the members of newOwners that were not owners of id on
// every ring of placed, and so may lack the record. Every node that holds it
// sends it: with two replicas a record may travel twice, but it arrives
// even when one of its old owners is the node that died.
func newHolders(placed []*ring.Ring, newOwners []string, id string, replicas int) []string {
	var out []string
	for _, o := range newOwners {
		for _, r := range placed {
			if !slices.Contains(r.Owners(id, replicas), o) {
				out = append(out, o)
				break
			}
		}
	}
	return out
}
