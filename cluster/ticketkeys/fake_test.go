package ticketkeys

import (
	"maps"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// fakeNet is an in-process cluster whose gossip the test controls: which
// nodes can reach which (partitions), whether broadcasts are delivered, and
// when push/pull anti-entropy runs.
type fakeNet struct {
	mu      sync.Mutex
	nodes   map[string]*fakeNode
	side    map[string]int  // partition side of each node; nodes on one side reach each other
	dropped map[string]bool // nodes that miss broadcasts (lossy gossip)
}

type fakeNode struct {
	net     *fakeNet
	name    string
	started time.Time
	tags    map[string]string
	shared  cluster.Shared
}

func newFakeNet() *fakeNet {
	return &fakeNet{nodes: make(map[string]*fakeNode), side: make(map[string]int), dropped: make(map[string]bool)}
}

func (f *fakeNet) add(name string, started time.Time) *fakeNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := &fakeNode{net: f, name: name, started: started, tags: make(map[string]string)}
	f.nodes[name] = n
	return n
}

// remove takes a node out, as if it crashed and was declared dead.
func (f *fakeNet) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.nodes, name)
}

// partition puts nodes on side (0 is everyone's side at first).
func (f *fakeNet) partition(side int, names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range names {
		f.side[n] = side
	}
}

func (f *fakeNet) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.side)
}

// reachable returns the nodes on from's side, from included.
func (f *fakeNet) reachable(from string) []*fakeNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fakeNode
	for name, n := range f.nodes {
		if f.side[name] == f.side[from] {
			out = append(out, n)
		}
	}
	return out
}

// pushPull runs one round of anti-entropy: every pair of nodes that can
// reach each other exchanges full states.
func (f *fakeNet) pushPull() {
	f.mu.Lock()
	names := make([]string, 0, len(f.nodes))
	for name := range f.nodes {
		names = append(names, name)
	}
	f.mu.Unlock()
	for _, a := range names {
		for _, b := range f.reachable(a) {
			if b.name == a || b.shared == nil {
				continue
			}
			f.mu.Lock()
			na := f.nodes[a]
			f.mu.Unlock()
			if na != nil && na.shared != nil {
				b.shared.Merge(na.shared.State())
			}
		}
	}
}

func (n *fakeNode) Members() []cluster.Member {
	var ms []cluster.Member
	for _, m := range n.net.reachable(n.name) {
		n.net.mu.Lock()
		tags := maps.Clone(m.tags)
		n.net.mu.Unlock()
		ms = append(ms, cluster.Member{Name: m.name, Started: m.started, Tags: tags, Local: m == n})
	}
	return ms
}

func (n *fakeNode) Share(name string, s cluster.Shared) (func([]byte), error) {
	n.net.mu.Lock()
	n.shared = s
	n.net.mu.Unlock()
	return func(update []byte) {
		for _, m := range n.net.reachable(n.name) {
			n.net.mu.Lock()
			lost := n.net.dropped[m.name]
			n.net.mu.Unlock()
			if m != n && m.shared != nil && !lost {
				m.shared.Merge(update)
			}
		}
	}, nil
}

func (n *fakeNode) SetTag(key, value string) error {
	n.net.mu.Lock()
	defer n.net.mu.Unlock()
	n.tags[key] = value
	return nil
}
