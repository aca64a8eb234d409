package store

import (
	"encoding/binary"
	"maps"
	"net"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/internal/peer"
	"github.com/sessionmesh/sessionmesh/store/internal/ring"
)

// view is one immutable picture of the cluster: the ring, the rings before
// it, and a client for each remote member. A new view replaces the old one
// atomically whenever membership changes, so lookups never take a lock.
type view struct {
	self     string
	replicas int
	ring     *ring.Ring
	started  incarnations // of ring's members
	// id identifies ring and started in the copies this node sends: a
	// member that receives one placed by another ring than its own looks
	// again at who should hold it (see serveCopy).
	id uint64
	// past holds up to maxPast earlier rings, newest first. Reads ask their
	// owners too, so a change of membership does not turn into misses while
	// records move: not only this node's records, but the other members',
	// which may still be on their way here after this node has finished.
	past []placement
	// from is the ring by which this node's records were placed before the
	// change it is still moving them for; its ring is nil once they have
	// all reached their owners on ring.
	from placement
	// gone holds the members that left the ring, or restarted, since this
	// node last settled. Copies they were still to make (a replica a member
	// did not take, to be retried) went with them: a record one of them
	// owned goes to all its owners, not only new ones.
	gone    map[string]bool
	clients map[string]*peer.Client // by member name; remote members on the ring only
	ips     map[string]bool         // the hosts of those members' data addresses
}

// maxPast is how many earlier rings reads consult: enough for a member that
// is still moving records from two changes ago.
const maxPast = 3

// A placement is a ring and when each of its members started.
type placement struct {
	ring    *ring.Ring
	started incarnations
}

// without returns p without the members in gone.
func (p placement) without(gone []string) placement {
	if p.ring == nil || len(gone) == 0 {
		return p
	}
	kept := slices.DeleteFunc(p.ring.Nodes(), func(n string) bool { return slices.Contains(gone, n) })
	started := maps.Clone(p.started)
	for _, n := range gone {
		delete(started, n)
	}
	return placement{ring.New(kept, 0, nil), started}
}

// forget returns p without the members that restarted since it was built
// (their start time in now differs): a process that restarts under the same
// name comes back empty, and holds none of what its name held on p.
func (p placement) forget(now incarnations) placement {
	return p.without(p.started.restarted(now))
}

// incarnations holds when each member on a ring started. A process that
// restarts under the same name comes back empty: by its start time it is a
// new member, however alike the ring's names look.
type incarnations map[string]time.Time

// id returns a number that identifies the members and their start times
// (never zero, which in a request means none is given).
func (in incarnations) id() uint64 {
	h := xxhash.New()
	var b [8]byte
	for _, name := range slices.Sorted(maps.Keys(in)) {
		h.WriteString(name)
		binary.BigEndian.PutUint64(b[:], uint64(in[name].UnixNano()))
		h.Write(b[:])
	}
	return max(h.Sum64(), 1)
}

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
// replicas, then its owners on the earlier rings.
func (v *view) owners(id string) []string {
	if v.ring == nil {
		return nil
	}
	out := v.ring.Owners(id, v.replicas)
	for _, p := range v.past {
		for _, o := range p.ring.Owners(id, v.replicas) {
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

// placedBy returns the rings by which this node may have placed its records
// since it last settled: the one it is still moving records from, and the
// ones after it (the earlier rings reads consult, newest first, which may
// reach further back: more rings only make move send more, never less).
func (v *view) placedBy() []*ring.Ring {
	rings := []*ring.Ring{v.from.ring}
	for _, p := range v.past {
		rings = append(rings, p.ring)
	}
	return rings
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
// same members builds the same ring. Clients of members still there, the
// same process at the same address, carry over with their connections. A
// new ring sets the rebalance going.
func (s *Store) rebuild(members []cluster.Member) {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	old := s.view.Load()
	next := &view{
		self:     s.self,
		replicas: s.cfg.Replicas,
		started:  make(incarnations),
		clients:  make(map[string]*peer.Client),
		ips:      make(map[string]bool),
	}
	var names []string
	for _, m := range members {
		if m.DataAddr == "" || m.DataVersion != peer.Version {
			continue
		}
		names = append(names, m.Name)
		next.started[m.Name] = m.Started
		if m.Name == s.self {
			continue
		}
		c, ok := old.clients[m.Name]
		if !ok || c.Addr() != m.DataAddr || !old.started[m.Name].Equal(m.Started) {
			// A restarted process gets a fresh client: the old one may be
			// backing off from the connection the old process dropped.
			c = peer.NewClient(m.DataAddr, s.cfg.TLS, peer.DialFunc(s.cfg.Dial), s.logger)
			c.OnRecover(func() { s.hurry(m.Name) })
			c.Warm()
		}
		next.clients[m.Name] = c
		if host, _, err := net.SplitHostPort(m.DataAddr); err == nil {
			next.ips[host] = true
		}
	}
	restarted := old.started.restarted(next.started)
	changed := old.ring == nil || !sameNodes(old.ring.Nodes(), names) || len(restarted) > 0
	if !changed {
		next.ring, next.started, next.id, next.past, next.from, next.gone = old.ring, old.started, old.id, old.past, old.from, old.gone
	} else {
		next.ring = ring.New(names, 0, nil)
		next.id = next.started.id()
		next.gone = make(map[string]bool)
		if old.from.ring != nil {
			maps.Copy(next.gone, old.gone) // not settled since: still owed
		}
		for _, n := range restarted {
			next.gone[n] = true
		}
		if old.ring != nil {
			for _, n := range old.ring.Nodes() {
				if !slices.Contains(names, n) {
					next.gone[n] = true
				}
			}
			next.past = append([]placement{{old.ring, old.started}}, old.past...)
			next.from = old.from // still moving records placed by an older ring: keep at it
			if next.from.ring == nil {
				next.from = placement{old.ring, old.started}
			}
		} else {
			// The first ring: this node has just started. The ring as it
			// was without it says who holds the records it now owns; the
			// records it stored before (a cluster of one) were placed on it
			// alone.
			rest := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == s.self })
			next.past = []placement{{ring.New(rest, 0, nil), next.started}}
			next.from = placement{ring.New([]string{s.self}, 1, nil), nil}
		}
		if len(next.past) > maxPast {
			next.past = next.past[:maxPast]
		}
		// Members that restarted hold none of what their names held before.
		for i, p := range next.past {
			next.past[i] = p.forget(next.started)
		}
		next.from = next.from.forget(next.started)
		s.stats.ringChanges.Add(1)
		s.logger.Info("ring changed", "nodes", len(names), "restarted", len(restarted))
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
// earlier rings' owners: other members may not have finished.
func (s *Store) settle(r *ring.Ring) {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	v := s.view.Load()
	if v.ring != r || v.from.ring == nil {
		return
	}
	next := *v
	next.from, next.gone = placement{}, nil
	s.view.Store(&next)
}

// sameNodes reports whether names (in any order) are exactly the ring's nodes.
func sameNodes(ringNodes, names []string) bool {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Equal(ringNodes, slices.Compact(names))
}
