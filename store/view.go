package store

import (
	"maps"
	"slices"
	"time"

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
	started  incarnations // of ring's members
	// prev is the ring records were placed by before the last change of
	// membership (or the oldest one whose records this node had not finished
	// moving when the ring changed again). Reads ask its owners too, so a
	// change of membership does not turn into misses: not only while this
	// node moves records, but while the others may still be moving theirs
	// here. It stays until the next change; nil before the first.
	prev        *ring.Ring
	prevStarted incarnations // of prev's members
	// moving is true until this node has sent the records whose owners
	// changed from prev to ring.
	moving  bool
	clients map[string]*peer.Client // by member name; remote members on the ring only
}

// incarnations holds when each member on a ring started. A process that
// restarts under the same name comes back empty: by its start time it is a
// new member, however alike the ring's names look.
type incarnations map[string]time.Time

// restarted returns the members of was that are in now with another start time.
func (was incarnations) restarted(now incarnations) []string {
	var out []string
	for name, t := range was {
		if u, ok := now[name]; ok && !u.Equal(t) {
			out = append(out, name)
		}
	}
	return out
}

// owners returns the members that may hold id: its owner, then its
// replicas, then its owners on the ring before the last change.
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
		self:        s.self,
		replicas:    s.cfg.Replicas,
		clients:     make(map[string]*peer.Client),
		prev:        old.prev,
		prevStarted: old.prevStarted,
		moving:      old.moving,
	}
	var names []string
	next.started = make(incarnations)
	for _, m := range members {
		if m.DataAddr == "" || m.DataVersion != peer.Version {
			continue
		}
		names = append(names, m.Name)
		next.started[m.Name] = m.Started
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
	changed := old.ring == nil || !sameNodes(old.ring.Nodes(), names) || len(old.started.restarted(next.started)) > 0
	if changed {
		next.ring = ring.New(names, 0, nil)
		switch {
		case old.moving: // still moving records from an older ring: keep asking its owners
		case old.ring != nil:
			next.prev, next.prevStarted = old.ring, old.started
		default:
			// The first ring: this node has just started, and holds nothing
			// but what was stored before the ring was built. The ring as
			// it was without it says who holds the records it now owns;
			// reads ask them until the rebalance has brought them here.
			rest := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == s.self })
			if len(rest) == 0 {
				rest = []string{s.self}
			}
			next.prev = ring.New(rest, 0, nil)
			next.prevStarted = maps.Clone(next.started)
		}
		// A member that restarted holds none of what it held on prev: its
		// records are with the members that took its place, and it is owed
		// them like any new member.
		gone := next.prevStarted.restarted(next.started)
		if len(gone) > 0 {
			kept := slices.DeleteFunc(next.prev.Nodes(), func(n string) bool { return slices.Contains(gone, n) })
			next.prev = ring.New(kept, 0, nil)
			next.prevStarted = maps.Clone(next.prevStarted)
			for _, n := range gone {
				delete(next.prevStarted, n)
			}
		}
		next.moving = true
		s.stats.ringChanges.Add(1)
		s.logger.Info("ring changed", "nodes", len(names), "restarted", len(gone))
	} else {
		next.ring, next.started = old.ring, old.started
	}
	s.view.Store(next)
	for name, c := range old.clients {
		if next.clients[name] != c {
			c.Close()
		}
	}
	if changed {
		s.kickRebalance()
	}
}

// settle records that this node has moved its records to their owners on
// ring r, if the ring has not changed again meanwhile. Reads still ask the
// previous ring's owners: other members may not have finished.
func (s *Store) settle(r *ring.Ring) {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	v := s.view.Load()
	if v.ring != r || !v.moving {
		return
	}
	next := *v
	next.moving = false
	s.view.Store(&next)
}

// sameNodes reports whether names (in any order) are exactly the ring's nodes.
func sameNodes(ringNodes, names []string) bool {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Equal(ringNodes, slices.Compact(names))
}
