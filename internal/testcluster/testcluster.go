// Package testcluster runs whole sessionmesh nodes — gossip membership,
// session store, TLS adapter and a TLS server — inside one test process on
// loopback, and a Go TLS client that reports whether each connection resumed.
package testcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/internal/faultnet"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// ServerNames are the names the test certificate is valid for.
var ServerNames = []string{"a.example", "b.example"}

// Options configure the nodes of a Cluster. The zero value works.
type Options struct {
	Cache  tlsadapter.CacheConfig // for every node's adapter (ticket mode: its Logger and Now)
	Store  func(*store.Config)    // adjusts every node's store config
	Logger *slog.Logger           // default: discard

	// Tickets switches the nodes to ticket mode, with these key settings
	// (CheckInterval defaults to 10ms here, so tests need not wait).
	Tickets *ticketkeys.Config

	// Net, if set, gives each node its own loopback address on a network
	// the test can partition.
	Net *faultnet.Network
}

// Cluster is a set of in-process nodes sharing one secret.
type Cluster struct {
	t      testing.TB
	opts   Options
	Secret []byte
	Cert   tls.Certificate
	Roots  *x509.CertPool // trusts Cert
	Nodes  []*Node
}

// Node is one member with its TLS server.
type Node struct {
	Name    string
	Cluster *cluster.Node
	Store   *store.Store
	Cache   *tlsadapter.Cache // cache mode
	Keys    *ticketkeys.Rotator
	Tickets *tlsadapter.Tickets // ticket mode
	Addr    string              // the TLS server's address

	ln      net.Listener
	mu      sync.Mutex     // guards extra
	extra   []net.Listener // more TLS servers (Serve)
	wg      sync.WaitGroup // the TLS servers' goroutines
	stopped atomic.Bool
}

// Start starts n nodes, each joining the first, and waits until every node
// has every other on its ring and a connection to each: a test's first
// lookup then measures the cluster, not the dial of a peer connection on a
// busy machine. Everything stops when the test ends.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, opts: opts, Secret: cluster.NewSecret()}
	var err error
	if c.Cert, c.Roots, err = selfsigned.New(ServerNames...); err != nil {
		t.Fatal(err)
	}
	for range n {
		c.AddNode()
	}
	c.WaitRing(n)
	c.waitPeers(n - 1)
	return c
}

// waitPeers waits until every running node is connected to n peers.
func (c *Cluster) waitPeers(n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, nd := range c.Running() {
		for nd.Store.Stats().PeersConnected != n {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s: connected to %d peers, want %d", nd.Name, nd.Store.Stats().PeersConnected, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// AddNode starts one more node and joins it to the cluster (if there is one).
func (c *Cluster) AddNode() *Node {
	c.t.Helper()
	nd := c.start(fmt.Sprintf("node-%d", len(c.Nodes)))
	c.Nodes = append(c.Nodes, nd)
	return nd
}

// Restart stops node i the way a deploy does — the store hands its records
// over, the node leaves the cluster — and starts a fresh process-like node
// under the same name, on new ports, which joins again.
func (c *Cluster) Restart(i int) *Node {
	c.t.Helper()
	old := c.Nodes[i]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := old.Store.Leave(ctx); err != nil {
		c.t.Fatalf("%s: store leave: %v", old.Name, err)
	}
	if err := old.Cluster.Leave(context.Background()); err != nil {
		c.t.Fatalf("%s: leave: %v", old.Name, err)
	}
	old.Stop()
	c.Nodes[i] = c.start(old.Name)
	return c.Nodes[i]
}

// start starts a node named name and joins it to the first running node.
func (c *Cluster) start(name string) *Node {
	c.t.Helper()
	logger := c.opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("node", name)
	host := "127.0.0.1"

	cc := cluster.LocalConfig()
	cc.Name, cc.Secret, cc.Logger = name, c.Secret, logger
	if c.opts.Net != nil {
		host = c.opts.Net.Add(name)
		tr, err := c.opts.Net.Transport(name)
		if err != nil {
			c.t.Fatal(err)
		}
		cc.Transport = tr
	}
	cn, err := cluster.New(cc)
	if err != nil {
		c.t.Fatal(err)
	}
	nd := &Node{Name: name, Cluster: cn}
	c.t.Cleanup(nd.Stop)

	sc := store.Config{Addr: net.JoinHostPort(host, "0"), TLS: cn.PeerTLS(), Logger: logger}
	if c.opts.Net != nil {
		sc.Dial = c.opts.Net.Dialer(name)
	}
	if c.opts.Store != nil {
		c.opts.Store(&sc)
	}
	if nd.Store, err = store.New(cn, sc); err != nil {
		c.t.Fatal(err)
	}
	acfg := c.opts.Cache
	if acfg.Logger == nil {
		acfg.Logger = logger
	}
	if nd.Cache, err = tlsadapter.NewCache(nd.Store, acfg); err != nil {
		c.t.Fatal(err)
	}
	var adapter interface{ TLSConfig(*tls.Config) *tls.Config } = nd.Cache
	if c.opts.Tickets != nil {
		kc := *c.opts.Tickets
		if kc.CheckInterval == 0 {
			kc.CheckInterval = 10 * time.Millisecond
		}
		if kc.Logger == nil {
			kc.Logger = logger
		}
		if nd.Keys, err = ticketkeys.New(cn, kc); err != nil {
			c.t.Fatal(err)
		}
		nd.Tickets = tlsadapter.NewTickets(nd.Keys, tlsadapter.TicketsConfig{Logger: acfg.Logger, Now: acfg.Now})
		adapter = nd.Tickets
	}
	for _, seed := range c.Nodes {
		if seed.Stopped() || seed.Name == name {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cn.Join(ctx, seed.Cluster.Addr())
		cancel()
		if err != nil {
			c.t.Fatal(err)
		}
		break
	}
	nd.serve(c.t, host, adapter.TLSConfig(&tls.Config{Certificates: []tls.Certificate{c.Cert}}))
	return nd
}

// Running returns the nodes not stopped.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, nd := range c.Nodes {
		if !nd.Stopped() {
			out = append(out, nd)
		}
	}
	return out
}

// WaitSettled waits until every running node has n members on its ring and
// no records moving.
func (c *Cluster) WaitSettled(n int) {
	c.t.Helper()
	c.WaitRing(n)
	deadline := time.Now().Add(60 * time.Second)
	for _, nd := range c.Running() {
		for nd.Store.Stats().Rebalancing {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s is still rebalancing", nd.Name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// WaitRing waits until every running node has n members on its ring.
func (c *Cluster) WaitRing(n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, nd := range c.Nodes {
		if nd.Stopped() {
			continue
		}
		for nd.Store.Stats().RingNodes != n {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s: ring has %d nodes, want %d", nd.Name, nd.Store.Stats().RingNodes, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// WaitTicketKeys waits until every running node encrypts with the same key,
// other than the keys in old, and returns its ID.
func (c *Cluster) WaitTicketKeys(old ...uint64) uint64 {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ids := make(map[uint64]bool)
		for _, nd := range c.Nodes {
			if nd.Stopped() {
				continue
			}
			active := uint64(0)
			for _, k := range nd.Keys.Keys() {
				if k.State == ticketkeys.Active {
					active = k.ID
				}
			}
			ids[active] = true
		}
		if len(ids) == 1 && !ids[0] {
			for id := range ids {
				if !slices.Contains(old, id) {
					return id
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes encrypt with different ticket keys: %v", ids)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// serve runs the node's TLS server on cfg.
func (nd *Node) serve(t testing.TB, host string, cfg *tls.Config) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	nd.ln, nd.Addr = ln, ln.Addr().String()
	nd.serveOn(ln, cfg)
}

// Serve runs one more TLS server on the node, with cfg (built by the test
// from the node's adapter), until the node stops, and returns its address.
func (nd *Node) Serve(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nd.mu.Lock()
	nd.extra = append(nd.extra, ln)
	nd.mu.Unlock()
	nd.serveOn(ln, cfg)
	return ln.Addr().String()
}

// serveOn accepts TLS connections on ln and greets each with the node's name.
// The greeting matters: a TLS 1.3 client takes its ticket only when it reads.
func (nd *Node) serveOn(ln net.Listener, cfg *tls.Config) {
	nd.wg.Add(1)
	go func() {
		defer nd.wg.Done()
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			nd.wg.Add(1)
			go func() {
				defer nd.wg.Done()
				defer raw.Close()
				raw.SetDeadline(time.Now().Add(10 * time.Second))
				c := tls.Server(raw, cfg)
				if c.Handshake() == nil {
					io.WriteString(c, nd.Name+"\n")
					c.Close()
				}
			}()
		}
	}()
}

// Stop stops the node without leaving the cluster, as a crash would look to
// the others: its TLS server, store and gossip all go at once.
func (nd *Node) Stop() {
	if nd.stopped.Swap(true) {
		return
	}
	if nd.ln != nil {
		nd.ln.Close()
	}
	nd.mu.Lock()
	for _, ln := range nd.extra {
		ln.Close()
	}
	nd.mu.Unlock()
	nd.wg.Wait()
	if nd.Keys != nil {
		nd.Keys.Close()
	}
	// Gossip first, so the store cannot withdraw from the ring politely.
	nd.Cluster.Close()
	if nd.Store != nil {
		nd.Store.Close()
	}
}

// Stopped reports whether Stop was called.
func (nd *Node) Stopped() bool { return nd.stopped.Load() }

// Client is a Go TLS client with its own session cache, like one browser.
type Client struct {
	Config *tls.Config
}

// Client returns a client for server name sni, limited to one TLS version.
func (c *Cluster) Client(version uint16, sni string) *Client {
	return &Client{Config: &tls.Config{
		RootCAs:            c.Roots,
		ServerName:         sni,
		MinVersion:         version,
		MaxVersion:         version,
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}}
}

// Session returns the session the client would offer next, or nil.
func (cl *Client) Session() *tls.ClientSessionState {
	s, _ := cl.Config.ClientSessionCache.Get(cl.Config.ServerName)
	return s
}

// Offer makes the client offer s on its next connection. Every connection
// replaces the session (a full handshake brings a new one, a resumed one a
// renewed ticket), so a test that offers one session several times restores
// it before each.
func (cl *Client) Offer(s *tls.ClientSessionState) {
	cl.Config.ClientSessionCache.Put(cl.Config.ServerName, s)
}

// Connect handshakes with addr, reads the greeting (which delivers a TLS 1.3
// ticket) and reports whether the session was resumed.
func (cl *Client) Connect(addr string) (resumed bool, err error) {
	d := tls.Dialer{Config: cl.Config, NetDialer: &net.Dialer{Timeout: 10 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	c := nc.(*tls.Conn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		return false, err
	}
	return c.ConnectionState().DidResume, nil
}
