package store

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/time/rate"

	"github.com/sessionmesh/sessionmesh/store/peer"
	"github.com/sessionmesh/sessionmesh/store/ring"
)

// Leave hands this node's records over before it goes. It withdraws the node
// from the ring, so that other members stop sending it lookups and writes,
// then sends every record it holds to the members that take its place, as
// fast as they take them, until done or ctx ends. Call it before Close when a
// node stops on purpose (a deploy, a scale-down); a node that crashes loses
// only records whose replicas had not been written yet.
func (s *Store) Leave(ctx context.Context) error {
	if s.isClosed() {
		return ErrClosed
	}
	s.leaving.Store(true)
	// The ring with this node on it is the one its records are placed by.
	// Take it before withdrawing: withdrawing rebuilds the view without this
	// node, and moving records from that ring to itself would send nothing.
	from := s.view.Load().ring
	if err := s.m.Advertise("", peer.Version); err != nil {
		return fmt.Errorf("store: withdraw from the ring: %w", err)
	}
	if from == nil {
		return nil
	}
	rest := slices.DeleteFunc(from.Nodes(), func(n string) bool { return n == s.self })
	if len(rest) == from.Len() {
		// This node's own entry had not reached its view yet; its records
		// were placed as if it were on the ring all the same.
		from = ring.New(append(rest, s.self), 0, nil)
	}
	if len(rest) == 0 {
		return nil // nobody to hand over to
	}
	sent, err := s.move(ctx, from, ring.New(rest, 0, nil), rate.NewLimiter(rate.Inf, 0), &s.stats.handedOff)
	s.logger.Info("handed records over", "records_sent", sent, "complete", err == nil)
	if err != nil {
		return fmt.Errorf("store: leave: handed over %d records, then: %w", sent, err)
	}
	return nil
}
