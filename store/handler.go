package store

import (
	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

// servePeer answers a request from another member out of the local shard
// only. It never forwards: a node that disagrees with us about the ring gets
// a miss, not a loop.
func (s *Store) servePeer(req *peer.Request) peer.Response {
	if checkID(req.Key) != nil {
		return peer.Response{Status: peer.StatusInvalid}
	}
	switch req.Op {
	case peer.OpGet:
		val, ok, expired := s.mem.get(req.Key, s.cfg.Now())
		switch {
		case expired:
			return peer.Response{Status: peer.StatusExpired}
		case !ok:
			return peer.Response{Status: peer.StatusNotFound}
		}
		s.stats.servedGets.Add(1)
		return peer.Response{Value: val}
	case peer.OpPut:
		if s.leaving.Load() {
			// A member that has not heard yet that this one left still
			// sends it records; taken now, they would leave with it.
			return peer.Response{Status: peer.StatusLeaving}
		}
		// Decode to validate, and to learn the expiry; the frame's value is
		// a fresh copy, so the shard can keep it.
		var r Record
		if err := r.UnmarshalBinary(req.Value); err != nil {
			return peer.Response{Status: peer.StatusInvalid}
		}
		if err := s.putLocal(req.Key, req.Value, r.Expires, r.Returning); err != nil {
			return peer.Response{Status: peer.StatusInvalid}
		}
		if !s.view.Load().holds(req.Key) {
			// A stray: the sender places it by a ring this node does not
			// share (one of them has not caught up, or a member left
			// meanwhile). Kept, so it is not lost, and handed to its owners
			// on this node's ring, which the retrier does once they agree.
			s.pending.add(req.Key, nil, true, s.cfg.retryBase)
		}
		s.stats.servedPuts.Add(1)
		return peer.Response{}
	case peer.OpDelete:
		s.mem.delete(req.Key)
		return peer.Response{}
	}
	return peer.Response{Status: peer.StatusInvalid}
}
