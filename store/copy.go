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
// one of them took it. A member no longer on the ring did not.
func (s *Store) send(id string, val []byte, to []string, counter *atomic.Uint64) bool {
	v := s.view.Load()
	ok := true
	for _, name := range to {
		c := v.clients[name]
		if c == nil {
			ok = false
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

// rebalancer moves records to their new owners after each ring change. A
// round that could not send every record (a new owner down, or still
// starting) is tried again, backing off, until it can or the ring changes.
func (s *Store) rebalancer() {
	const firstRetry, maxRetry = time.Second, 30 * time.Second
	retryIn := firstRetry
	var retry <-chan time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-s.rebalance:
			retryIn = firstRetry
		case <-retry:
		}
		retry = nil
		v := s.view.Load()
		if v.from.ring == nil || s.leaving.Load() {
			continue
		}
		ctx, cancel := s.untilRingChanges(v.ring)
		start := time.Now()
		limit := rate.NewLimiter(rate.Limit(s.cfg.RebalanceRate), s.cfg.RebalanceRate/10+1)
		res, err := s.move(ctx, v.from.ring, v.ring, limit, &s.stats.rebalanced)
		cancel()
		switch {
		case err != nil: // the ring changed, which started another round, or the store stopped
		case res.kept == 0:
			s.settle(v.ring)
		default:
			retry = time.After(retryIn)
			retryIn = min(2*retryIn, maxRetry)
		}
		s.logger.Info("rebalance finished", "records_sent", res.sent, "records_unsent", res.kept,
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

// move sends each local record whose owners differ between rings from and
// to to the owners on to that need it, at most as fast as limit allows,
// counting each copy in counter. A record this node still holds on to goes
// to the owners that did not hold it on from; one it no longer holds goes
// to every owner on to, and is dropped only once they all have it. (A
// record that stays is still sent only where from says it is missing; after
// overlapping changes that guess can leave it with one copy until a read
// repairs it.) It returns what it did, and
// ctx's error if it stopped early.
func (s *Store) move(ctx context.Context, from, to *ring.Ring, limit *rate.Limiter, counter *atomic.Uint64) (moved, error) {
	replicas := s.cfg.Replicas
	var sent, kept, placed atomic.Int64
	var wg sync.WaitGroup
	work := make(chan string)
	for range copyWorkers {
		wg.Go(func() {
			for id := range work {
				val, _, ok := s.mem.peek(id, s.cfg.Now())
				if !ok {
					placed.Add(1) // expired or evicted meanwhile: nothing to move
					continue
				}
				owners := to.Owners(id, replicas)
				stays := slices.Contains(owners, s.self)
				targets := owners
				if stays {
					targets = others(newHolders(from.Owners(id, replicas), owners), s.self)
				}
				if len(targets) > 0 && !s.send(id, val, targets, counter) {
					kept.Add(1)
					continue
				}
				sent.Add(int64(len(targets)))
				placed.Add(1)
				if !stays {
					s.mem.delete(id)
				}
			}
		})
	}
	var err error
	keys := s.mem.keys()
	for _, id := range keys {
		if err = limit.Wait(ctx); err != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
	return moved{records: len(keys), placed: int(placed.Load()), sent: int(sent.Load()), kept: int(kept.Load())}, err
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
