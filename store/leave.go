package store

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/time/rate"

	"github.com/sessionmesh/sessionmesh/store/internal/peer"
	"github.com/sessionmesh/sessionmesh/store/internal/ring"
)

// Leave hands this node's records over before it goes. It withdraws the node
// from the ring, so that other members stop sending it lookups and writes,
// then sends every record it holds to each of its owners on the ring
// without this node, as fast as they take them, until done or ctx ends. It
// asks nobody who might hold what already: a record whose owners changed
// moments ago may not have reached them yet. Call it before Close when a
// node stops on purpose (a deploy, a scale-down); a node that crashes loses
// only records whose replicas had not been written yet.
func (s *Store) Leave(ctx context.Context) error {
	if s.isClosed() {
		return ErrClosed
	}
	// Copies being stored now finish first: what Leave hands over below
	// includes them, and copies that arrive later are refused.
	s.leaveMu.Lock()
	s.leaving.Store(true)
	s.leaveMu.Unlock()
	// Take the ring before withdrawing: withdrawing rebuilds the view
	// without this node, from which its records would seem to have moved.
	before := s.view.Load().ring
	if err := s.m.Advertise("", peer.Version); err != nil {
		return fmt.Errorf("store: withdraw from the ring: %w", err)
	}
	if before == nil {
		return nil
	}
	rest := slices.DeleteFunc(before.Nodes(), func(n string) bool { return n == s.self })
	if len(rest) == 0 {
		return nil // nobody to hand over to
	}
	to := ring.New(rest, 0, nil)
	// This node is not on to, so move sends every record to all its
	// owners there, whatever the ring it is moved from says.
	var res moved
	var err error
	for _, sp := range []*space{s.tls, s.web} {
		var r moved
		r, err = s.move(ctx, sp, []*ring.Ring{to}, to, nil, rate.NewLimiter(rate.Inf, 0), &s.stats.handedOff, func(string, []string, bool) {})
		res.add(r)
		if err != nil {
			break
		}
	}
	s.logger.Info("handed records over", "records", res.records, "handed_over", res.placed, "copies_sent", res.sent,
		"complete", err == nil && res.placed == res.records)
	switch {
	case err != nil:
		return fmt.Errorf("store: leave: handed %d of %d records over, then: %w", res.placed, res.records, err)
	case res.placed < res.records:
		return fmt.Errorf("store: leave: handed %d of %d records over; the members that should take the rest did not answer (stopping too?)", res.placed, res.records)
	}
	return nil
}
