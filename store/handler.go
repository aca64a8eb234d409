package store

import (
	"context"
	"errors"

	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

// servePeer answers a request from another member out of the local memory
// only. It never forwards: a node that disagrees with us about the ring gets
// a miss, not a loop. (A web session write it is asked to coordinate goes to
// other members, but as copies, each stored where it lands.)
func (s *Store) servePeer(req *peer.Request) peer.Response {
	if checkID(req.Key) != nil || s.cfg.webless && req.Op >= peer.OpWebGet {
		return peer.Response{Status: peer.StatusInvalid}
	}
	switch req.Op {
	case peer.OpGet:
		val, ok, expired := s.tls.mem.get(req.Key, s.cfg.Now())
		switch {
		case expired:
			return peer.Response{Status: peer.StatusExpired}
		case !ok:
			return peer.Response{Status: peer.StatusNotFound}
		}
		s.stats.servedGets.Add(1)
		return peer.Response{Value: val}
	case peer.OpPut:
		return s.serveCopy(s.tls, req)
	case peer.OpDelete:
		s.tls.mem.delete(req.Key)
		return peer.Response{}
	case peer.OpWebGet:
		val, ok, _ := s.web.mem.get(req.Key, s.cfg.Now())
		if !ok {
			return peer.Response{Status: peer.StatusNotFound}
		}
		s.stats.servedGets.Add(1)
		return peer.Response{Value: val}
	case peer.OpWebPut:
		return s.serveCopy(s.web, req)
	case peer.OpWebCommit:
		if s.leaving.Load() {
			return peer.Response{Status: peer.StatusLeaving}
		}
		c, err := decodeChange(req.Value)
		if err != nil {
			return peer.Response{Status: peer.StatusInvalid}
		}
		ctx, cancel := context.WithTimeout(peer.Patient(s.ctx), webTimeout)
		defer cancel()
		if err := s.webSessions.coordinate(ctx, req.Key, c); err != nil {
			if errors.Is(err, ErrDeleted) {
				return peer.Response{Status: peer.StatusNewer} // a tombstone stands
			}
			if errors.Is(err, ErrUnavailable) {
				return peer.Response{Status: peer.StatusShort, Value: []byte(err.Error())}
			}
			return peer.Response{Status: peer.StatusInvalid}
		}
		return peer.Response{}
	}
	return peer.Response{Status: peer.StatusInvalid}
}

// serveCopy stores a copy another member sends: a replica, a rebalanced or
// handed-over record, a repair, a web session write it coordinates.
func (s *Store) serveCopy(sp *space, req *peer.Request) peer.Response {
	s.leaveMu.RLock()
	if s.leaving.Load() {
		s.leaveMu.RUnlock()
		// A member that has not heard yet that this one left still sends
		// it records; taken now, they would leave with it.
		return peer.Response{Status: peer.StatusLeaving}
	}
	// The frame's value is a fresh copy, so the memory can keep it. Stored
	// before Leave can begin, so that Leave hands it over.
	stored, held, err := s.store(sp, req.Key, req.Value)
	s.leaveMu.RUnlock()
	if err != nil {
		return peer.Response{Status: peer.StatusInvalid}
	}
	// Whether the copy was stored or one as new or newer was already held
	// (a web session's copy seen before), this node holds the record now,
	// and the sender may place it by another ring than this node's. A copy
	// already held waits longer before it is passed on: between two members
	// whose views differ it would otherwise go back and forth every
	// retryBase until they agree.
	first := s.cfg.retryBase
	if !stored {
		first = 10 * s.cfg.retryBase
	}
	switch v := s.view.Load(); {
	case !v.holds(req.Key):
		// A stray: the sender places it by a ring this node does not share
		// (one of them has not caught up, or a member left meanwhile).
		// Kept, so it is not lost, and handed to its owners on this node's
		// ring, which the retrier does once they agree.
		s.pending.add(sp, req.Key, nil, true, first)
	case req.Ring != 0 && req.Ring != v.id:
		// Ours, but placed by another ring: owners on ours that the sender
		// does not know of (it never heard of a member, or heard of one
		// that we never did) may lack it, and nobody else would send it.
		s.pending.add(sp, req.Key, nil, false, first)
	}
	if !stored {
		return peer.Response{Status: peer.StatusNewer, Value: held}
	}
	s.stats.servedPuts.Add(1)
	return peer.Response{}
}
