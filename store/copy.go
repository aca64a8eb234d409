package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/sessionmesh/sessionmesh/store/peer"
	"github.com/sessionmesh/sessionmesh/store/ring"
)

// Records travel to other members in the background: replicas of a new
// record, records whose owners changed with the ring (rebalance), and records
// a leaving node hands over (Leave).

const (
	copyQueue   = 8192            // replication tasks waiting; more are dropped and counted
	copyWorkers = 4               // goroutines sending them, each one request at a time
	copyTimeout = 2 * time.Second // per request
)

type copyTask struct {
	id      string
	val     []byte
	to      []string // member names
	counter *atomic.Uint64
}

// copy queues val to be stored under id on the members in to, counting each
// record sent in counter. It never blocks: when the queue is full the copy is
// dropped (and counted), which costs at worst a full handshake later.
func (s *Store) copy(id string, val []byte, to []string, counter *atomic.Uint64) {
	if len(to) == 0 {
		return
	}
	s.stats.copiesPending.Add(1)
	select {
	case s.copies <- copyTask{id, val, to, counter}:
	default:
		s.stats.copiesPending.Add(-1)
		s.stats.copiesDropped.Add(1)
	}
}

// copier sends queued copies until the store stops.
func (s *Store) copier() {
	for {
		select {
		case <-s.stop:
			return
		case t := <-s.copies:
			s.send(t.id, t.val, t.to, t.counter)
			s.stats.copiesPending.Add(-1)
		}
	}
}

// send stores val under id on each member in to, and reports whether every
// one of them took it.
func (s *Store) send(id string, val []byte, to []string, counter *atomic.Uint64) bool {
	v := s.view.Load()
	ok := true
	for _, name := range to {
		c := v.clients[name]
		if c == nil { // gone from the ring since
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, copyTimeout)
		resp, err := c.Do(ctx, &peer.Request{Op: peer.OpPut, Key: id, Value: val})
		cancel()
		if err != nil || resp.Status != peer.StatusOK {
			s.stats.copyErrors.Add(1)
			ok = false
			continue
		}
		counter.Add(1)
	}
	return ok
}

func (s *Store) kickRebalance() {
	select {
	case s.rebalance <- struct{}{}:
	default:
	}
}

// rebalancer moves records to their new owners after each ring change.
func (s *Store) rebalancer() {
	for {
		select {
		case <-s.stop:
			return
		case <-s.rebalance:
		}
		v := s.view.Load()
		if !v.moving || s.leaving.Load() {
			continue
		}
		ctx, cancel := s.untilRingChanges(v.ring)
		start := time.Now()
		limit := rate.NewLimiter(rate.Limit(s.cfg.RebalanceRate), s.cfg.RebalanceRate/10+1)
		sent, err := s.move(ctx, v.prev, v.ring, limit, &s.stats.rebalanced)
		cancel()
		if err == nil {
			s.settle(v.ring)
		}
		s.logger.Info("rebalance finished", "records_sent", sent, "took", time.Since(start).Round(time.Millisecond), "interrupted", err != nil)
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

// move sends each local record whose owners differ between rings from and
// to, to the owners on to that did not hold it on from, at most as fast as
// limit allows, counting each copy in counter. Records this node does not
// hold on to are dropped once their new owners have them. It returns the
// copies sent, and ctx's error if it stopped early.
func (s *Store) move(ctx context.Context, from, to *ring.Ring, limit *rate.Limiter, counter *atomic.Uint64) (int, error) {
	replicas := s.cfg.Replicas
	var sent atomic.Int64
	var wg sync.WaitGroup
	work := make(chan string)
	for range copyWorkers {
		wg.Go(func() {
			for id := range work {
				val, _, ok := s.mem.peek(id, s.cfg.Now())
				if !ok {
					continue
				}
				newOwners := to.Owners(id, replicas)
				targets := others(newHolders(from.Owners(id, replicas), newOwners), s.self)
				if len(targets) > 0 && !s.send(id, val, targets, counter) {
					continue // keep it: a new owner may not have it
				}
				sent.Add(int64(len(targets)))
				if !slices.Contains(newOwners, s.self) {
					s.mem.delete(id)
				}
			}
		})
	}
	var err error
	for _, id := range s.mem.keys() {
		if err = limit.Wait(ctx); err != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
	return int(sent.Load()), err
}

// newHolders returns the members of newOwners that were not among
// oldOwners, and so may lack the record. Every node that holds it sends it:
// with two replicas a record may travel twice, but it arrives even when one
// of its old owners is the node that died.
func newHolders(oldOwners, newOwners []string) []string {
	var out []string
	for _, o := range newOwners {
		if !slices.Contains(oldOwners, o) {
			out = append(out, o)
		}
	}
	return out
}
