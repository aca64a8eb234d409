// Package faultnet lets tests cut the network between groups of in-process
// nodes, for gossip and peer connections alike.
//
// Each node gets its own loopback address (127.0.0.2, 127.0.0.3, ...), so
// that traffic can be told apart by source as well as destination: a memberlist
// transport (Transport) and a dialer for the peer data channel (Dialer) drop
// what crosses a partition and refuse to connect across it, and Partition cuts
// the connections that already do.
package faultnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// ErrPartitioned is what a dial across a partition returns.
var ErrPartitioned = errors.New("faultnet: partitioned")

// Network is the nodes of one test and how they are split. The zero value is
// not usable; call New.
type Network struct {
	mu     sync.Mutex // guards everything below
	next   int
	ipOf   map[string]string // node name → IP
	nodeOf map[string]string // IP → node name
	side   map[string]int    // node name → partition side; all 0 when whole
	conns  map[*conn]struct{}
}

// New returns a network with no nodes and no partition.
func New() *Network {
	return &Network{
		next:   2,
		ipOf:   make(map[string]string),
		nodeOf: make(map[string]string),
		side:   make(map[string]int),
		conns:  make(map[*conn]struct{}),
	}
}

// Add gives node a loopback address of its own, or returns the one it has.
func (n *Network) Add(node string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ip, ok := n.ipOf[node]; ok {
		return ip
	}
	if n.next > 254 {
		panic("faultnet: out of loopback addresses")
	}
	ip := fmt.Sprintf("127.0.0.%d", n.next)
	n.next++
	n.ipOf[node], n.nodeOf[ip] = ip, node
	return ip
}

// Partition splits the nodes into the given groups; nodes not listed join the
// first. Traffic between groups stops, and connections across are cut.
func (n *Network) Partition(groups ...[]string) {
	n.mu.Lock()
	clear(n.side)
	for i, g := range groups {
		for _, node := range g {
			n.side[node] = i
		}
	}
	var cut []*conn
	for c := range n.conns {
		if n.blockedLocked(c.from, c.to) {
			cut = append(cut, c)
		}
	}
	n.mu.Unlock()
	for _, c := range cut {
		c.Conn.Close()
	}
}

// Heal ends the partition.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.side)
}

// blocked reports whether traffic from node a to the node at addr (host:port,
// or a bare IP) is cut. Unknown addresses are never blocked.
func (n *Network) blocked(a, addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.blockedLocked(a, n.nodeAt(addr))
}

func (n *Network) blockedLocked(a, b string) bool {
	return a != "" && b != "" && n.side[a] != n.side[b]
}

func (n *Network) nodeAt(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return n.nodeOf[host]
}

// Dialer returns a dial function for node's outgoing peer connections: from
// its own address, refused across a partition, and cut when one begins.
func (n *Network) Dialer(node string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	ip := n.Add(node)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if n.blocked(node, addr) {
			return nil, fmt.Errorf("dial %s: %w", addr, ErrPartitioned)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: nc, net: n, from: node}
		n.mu.Lock()
		c.to = n.nodeAt(addr)
		if n.blockedLocked(c.from, c.to) { // a partition began while it dialed
			n.mu.Unlock()
			nc.Close()
			return nil, fmt.Errorf("dial %s: %w", addr, ErrPartitioned)
		}
		n.conns[c] = struct{}{}
		n.mu.Unlock()
		return c, nil
	}
}

// conn is a connection the network tracks, to cut it.
type conn struct {
	net.Conn
	net      *Network
	from, to string
	once     sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.net.mu.Lock()
		delete(c.net.conns, c)
		c.net.mu.Unlock()
	})
	return c.Conn.Close()
}
