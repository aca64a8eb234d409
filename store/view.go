package store

import (
	"slices"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/peer"
	"github.com/sessionmesh/sessionmesh/store/ring"
)

// view is one immutable picture of the cluster: the ring and a client for
// each remote member on it. A new view replaces the old one atomically
// whenever membership changes, so lookups never take a lock.
type view struct {
	self    string
	ring    *ring.Ring
	members map[string]cluster.Member
	clients map[string]*peer.Client // by member name; remote members only
}

// owner returns the client for the member that owns id, or nil if this node
// owns it or the ring is empty.
func (v *view) owner(id string) *peer.Client {
	if v.ring == nil {
		return nil
	}
	return v.clients[v.ring.Owner(id)]
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
// same members builds the same ring. Clients of members that are still there
// (at the same address) carry over, so their connections survive.
func (s *Store) rebuild(members []cluster.Member) {
	old := s.view.Load()
	next := &view{
		self:    s.self,
		members: make(map[string]cluster.Member),
		clients: make(map[string]*peer.Client),
	}
	var names []string
	for _, m := range members {
		if m.DataAddr == "" || m.DataVersion != peer.Version {
			continue
		}
		names = append(names, m.Name)
		next.members[m.Name] = m
		if m.Name == s.self {
			continue
		}
		if c, ok := old.clients[m.Name]; ok && c.Addr() == m.DataAddr {
			next.clients[m.Name] = c
		} else {
			next.clients[m.Name] = peer.NewClient(m.DataAddr, s.cfg.TLS, s.logger)
		}
	}
	if old.ring != nil && sameNodes(old.ring.Nodes(), names) {
		next.ring = old.ring
	} else {
		next.ring = ring.New(names, 0, nil)
		s.logger.Info("ring changed", "nodes", len(names))
	}
	s.view.Store(next)
	for name, c := range old.clients {
		if next.clients[name] != c {
			c.Close()
		}
	}
}

// sameNodes reports whether names (in any order) are exactly the ring's nodes.
func sameNodes(ringNodes, names []string) bool {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Equal(ringNodes, slices.Compact(names))
}
