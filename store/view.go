package store

import (
	"slices"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/peer"
	"github.com/sessionmesh/sessionmesh/store/ring"
)

// view is one immutable picture of the cluster: the ring, the ring before
// the last change while records still move, and a client for each remote
// member. A new view replaces the old one atomically whenever membership
// changes, so lookups never take a lock.
type view struct {
	self     string
	replicas int
	ring     *ring.Ring
	// prev is the oldest ring whose records may not all have reached their
	// owners on ring yet; nil once a rebalance has settled. Reads ask its
	// owners too, so a change of membership does not turn into misses.
	prev    *ring.Ring
	clients map[string]*peer.Client // by member name; remote members on the ring only
}

// owners returns the members that should hold id: its owner, then its
// replicas, then — while records move — its owners on the previous ring.
func (v *view) owners(id string) []string {
	if v.ring == nil {
		return nil
	}
	out := v.ring.Owners(id, v.replicas)
	if v.prev != nil {
		for _, o := range v.prev.Owners(id, v.replicas) {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}

// placement returns the members that should hold id on the current ring:
// its owner, then its replicas.
func (v *view) placement(id string) []string {
	if v.ring == nil {
		return nil
	}
	return v.ring.Owners(id, v.replicas)
}

// holds reports whether this node is among id's owners on the current ring
// (or is the only node, or there is no ring yet).
func (v *view) holds(id string) bool {
	if v.ring == nil || v.ring.Len() == 0 {
		return true
	}
	return slices.Contains(v.ring.Owners(id, v.replicas), v.self)
}

// close closes the view's clients.
func (v *view) close() {
	for _, c := range v.clients {
		c.Close()
	}
}

// follow rebuilds the view after every membership change until the store
// stops or the membership closes.
func (s *Store) follow(changes <-chan struct{}) {
	for {
		select {
		case <-s.stop:
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
			s.rebuild(s.m.Members())
		}
	}
}

// rebuild makes a new view from members. Only members that serve a data
// channel on this protocol version are on the ring; every node that sees the
// same members builds the same ring. Clients of members still there, at the
// same address, carry over with their connections. A new ring sets the
// rebalance going.
func (s *Store) rebuild(members []cluster.Member) {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	old := s.view.Load()
	next := &view{
		self:     s.self,
		replicas: s.cfg.Replicas,
		clients:  make(map[string]*peer.Client),
		prev:     old.prev,
	}
	var names []string
	for _, m := range members {
		if m.DataAddr == "" || m.DataVersion != peer.Version {
			continue
		}
		names = append(names, m.Name)
		if m.Name == s.self {
			continue
		}
		if c, ok := old.clients[m.Name]; ok && c.Addr() == m.DataAddr {
			next.clients[m.Name] = c
		} else {
			c := peer.NewClient(m.DataAddr, s.cfg.TLS, s.cfg.Dial, s.logger)
			c.Warm()
			next.clients[m.Name] = c
		}
	}
	changed := old.ring == nil || !sameNodes(old.ring.Nodes(), names)
	if changed {
		next.ring = ring.New(names, 0, nil)
		switch {
		case next.prev != nil: // still moving records from an older ring: keep asking its owners
		case old.ring != nil:
			next.prev = old.ring
		default:
			// The first ring. Records stored before it (this node alone)
			// move to their owners as if this node had been the whole ring.
			next.prev = ring.New([]string{s.self}, 1, nil)
		}
		s.stats.ringChanges.Add(1)
		s.logger.Info("ring changed", "nodes", len(names))
	} else {
		next.ring = old.ring
	}
	s.view.Store(next)
	for name, c := range old.clients {
		if next.clients[name] != c {
			c.Close()
		}
	}
	if changed && next.prev != nil {
		s.kickRebalance()
	}
}

// settle forgets the previous ring once a rebalance of ring r has finished,
// if the ring has not changed again meanwhile.
func (s *Store) settle(r *ring.Ring) {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	v := s.view.Load()
	if v.ring != r || v.prev == nil {
		return
	}
	next := *v
	next.prev = nil
	s.view.Store(&next)
}

// sameNodes reports whether names (in any order) are exactly the ring's nodes.
func sameNodes(ringNodes, names []string) bool {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Equal(ringNodes, slices.Compact(names))
}
