package store

import (
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// fakeCluster is an in-process membership for testing stores without gossip:
// every change is seen by every node at once, or, with split, only by some.
type fakeCluster struct {
	mu       sync.Mutex
	members  map[string]cluster.Member
	watchers map[chan struct{}]struct{}
	joins    int // so far; each join starts at a later time

	// afterAdvertise, if set, runs at the end of every Advertise, with the
	// name of the member that advertised.
	afterAdvertise func(name string)
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{members: make(map[string]cluster.Member), watchers: make(map[chan struct{}]struct{})}
}

// join adds a member and returns its view of the cluster. A name that is
// already a member is a process that restarted: it replaces the old entry,
// with a later start time.
func (c *fakeCluster) join(name string) *fakeNode {
	c.mu.Lock()
	c.joins++
	c.members[name] = cluster.Member{Name: name, Addr: "fake:" + name, Started: time.Unix(int64(c.joins), 0)}
	c.mu.Unlock()
	c.changed()
	return &fakeNode{c: c, name: name}
}

// remove drops a member, as failure detection would after a crash.
func (c *fakeCluster) remove(name string) {
	c.mu.Lock()
	delete(c.members, name)
	c.mu.Unlock()
	c.changed()
}

func (c *fakeCluster) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

type fakeNode struct {
	c    *fakeCluster
	name string
}

func (n *fakeNode) Members() []cluster.Member {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	var ms []cluster.Member
	for _, m := range n.c.members {
		m.Local = m.Name == n.name
		ms = append(ms, m)
	}
	return ms
}

func (n *fakeNode) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	n.c.mu.Lock()
	n.c.watchers[ch] = struct{}{}
	n.c.mu.Unlock()
	return ch, func() {
		n.c.mu.Lock()
		delete(n.c.watchers, ch)
		n.c.mu.Unlock()
	}
}

func (n *fakeNode) Advertise(addr string, version uint8) error {
	n.c.mu.Lock()
	m, ok := n.c.members[n.name]
	if ok {
		m.DataAddr, m.DataVersion = addr, version
		n.c.members[n.name] = m
	}
	after := n.c.afterAdvertise
	n.c.mu.Unlock()
	n.c.changed()
	if after != nil {
		after(n.name)
	}
	return nil
}
