package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessionmesh/sessionmesh/internal/rejects"
)

// ErrClosed is returned by methods of a Node that has been closed.
var ErrClosed = errors.New("cluster: node closed")

// Node is this process's membership in a cluster. It is safe for concurrent use.
type Node struct {
	name    string
	addr    string // gossip address, host:port
	host    string // its host
	logger  *slog.Logger
	peerTLS *tls.Config
	started time.Time
	ml      *memberlist.Memberlist
	timing  Timing
	bind    net.IP // the gossip socket's address; nil with a Config.Transport

	mlog     logWriter                   // memberlist's log lines
	clash    atomic.Pointer[net.UDPAddr] // another process claiming this node's name, as memberlist last reported
	rejected *rejects.Log                // gossip the gate refused
	members  *memberSet
	stop     chan struct{} // closed by Close: ends Join's retries and the reconnect loop
	done     chan struct{} // closed when the reconnect loop has returned

	mu     sync.Mutex // guards left and closed; orders Leave, Advertise and Close
	left   bool
	closed bool

	metaMu sync.Mutex // guards meta; memberlist reads it through delegate.NodeMeta
	meta   meta

	sharesMu   sync.Mutex // guards shares
	shares     map[string]Shared
	broadcasts *memberlist.TransmitLimitedQueue
}

// New starts a node: it listens for gossip at once and is a cluster of one
// until Join. Close it to stop.
func New(cfg Config) (n *Node, err error) {
	if err := checkSecret(cfg.Secret); err != nil {
		return nil, err
	}
	keys := [][]byte{derive(cfg.Secret, labelGossipKey)}
	for _, s := range cfg.OldSecrets {
		if err := checkSecret(s); err != nil {
			return nil, fmt.Errorf("cluster: OldSecrets: %w", err)
		}
		keys = append(keys, derive(s, labelGossipKey))
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = ":7946"
	}
	if cfg.Label == "" {
		cfg.Label = "sessionmesh"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Timing = cfg.Timing.withDefaults()
	host, port, err := splitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: BindAddr: %w", err)
	}
	if cfg.Name == "" && cfg.Transport != nil {
		return nil, errors.New("cluster: Config.Name is required with a custom Transport")
	}

	n = &Node{
		started: time.Now(),
		timing:  cfg.Timing,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		shares:  make(map[string]Shared),
	}
	n.mlog.l.Store(cfg.Logger)
	mlLogger := log.New(&n.mlog, "", 0)
	// The gate needs the member list (to tell members' streams from
	// strangers'); the node's name, which the list and the logs carry,
	// needs the port the listener gets.
	n.members = newMemberSet("", cfg.Logger, cfg.Timing.ProbeInterval)
	rejected := rejects.New("gossip", cfg.Logger, rejectSummary)
	n.rejected = rejected
	defer func() { // n is nil by then: a failure returns nil, err
		if err != nil {
			rejected.Close()
		}
	}()
	g, err := newGate(cfg.Label, keys, cfg.Timing.TCPTimeout, n.maxStream, n.members.hasIP, n.rejected)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	var transport memberlist.NodeAwareTransport
	if cfg.Transport != nil {
		transport = newGatedTransport(cfg.Transport, g)
	} else {
		nt, err := listenGossip(host, port, g)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		transport, port = nt, nt.port()
		n.bind = net.ParseIP(host)
	}
	started := false // memberlist took the transport over
	defer func() {
		if err != nil && !started {
			transport.Shutdown()
		}
	}()
	if cfg.Name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return nil, fmt.Errorf("cluster: Config.Name is empty and the host name is unknown: %v", err)
		}
		// The host name alone is not unique when several members share a
		// host; with the gossip port it is, and it stays the same across
		// restarts on a fixed port.
		cfg.Name = h + ":" + strconv.Itoa(port)
	}
	n.name = cfg.Name
	n.logger = cfg.Logger.With("node", cfg.Name)
	n.mlog.l.Store(n.logger)
	n.rejected.SetLogger(n.logger)
	n.members.named(n.name, n.logger) // before memberlist, which calls it, starts
	if n.peerTLS = cfg.PeerTLS.Clone(); n.peerTLS == nil {
		if n.peerTLS, err = PeerTLSConfig(cfg.Name, append([][]byte{cfg.Secret}, cfg.OldSecrets...)...); err != nil {
			return nil, err
		}
	}
	n.meta.Started = n.started

	mc := n.memberlistConfig(cfg, host, port, transport, mlLogger)
	if cfg.AdvertiseAddr != "" {
		if mc.AdvertiseAddr, mc.AdvertisePort, err = splitHostPort(cfg.AdvertiseAddr); err != nil {
			return nil, fmt.Errorf("cluster: AdvertiseAddr: %w", err)
		}
	}
	if mc.Keyring, err = memberlist.NewKeyring(keys, keys[0]); err != nil {
		return nil, fmt.Errorf("cluster: keyring: %w", err)
	}
	n.broadcasts = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return n.ml.NumMembers() },
		RetransmitMult: cfg.Timing.RetransmitMult,
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: start gossip on %s: %w", cfg.BindAddr, err)
	}
	started = true
	n.ml = ml
	// LocalNode points into state memberlist keeps changing under its own
	// lock; read the address once, now, before anything else can.
	ln := n.ml.LocalNode()
	n.host = ln.Addr.String()
	n.addr = net.JoinHostPort(n.host, strconv.Itoa(int(ln.Port)))
	go n.reconnect()
	return n, nil
}

// rejectSummary is how often the log sums up the gossip refused.
const rejectSummary = time.Minute

// maxStream is how long a gossip stream's message may be: enough for this
// node's full state as a cluster of its size sends it (a few hundred bytes
// per member, and the shared state, such as ticket keys, under 100 KiB),
// with room to spare.
func (n *Node) maxStream() int { return 256<<10 + 2<<10*n.members.count() }

func (n *Node) memberlistConfig(cfg Config, host string, port int, transport memberlist.NodeAwareTransport, logger *log.Logger) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertisePort = port
	mc.Transport = transport
	if cfg.Transport != nil {
		mc.BindPort, mc.AdvertisePort = 0, 0 // the transport's own
	}
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.Label = cfg.Label
	mc.Logger = logger
	mc.Delegate = delegate{n}
	mc.Conflict = conflicts{n}
	mc.Events = events{n.members}
	mc.Ping = pings{n.members}

	t := cfg.Timing
	mc.ProbeInterval, mc.ProbeTimeout = t.ProbeInterval, t.ProbeTimeout
	mc.SuspicionMult = t.SuspicionMult
	mc.GossipInterval, mc.GossipNodes = t.GossipInterval, t.GossipNodes
	mc.RetransmitMult = t.RetransmitMult
	mc.PushPullInterval = t.PushPullInterval
	mc.TCPTimeout = t.TCPTimeout
	mc.DeadNodeReclaimTime = t.DeadNodeReclaimTime
	mc.GossipToTheDeadTime = t.PushPullInterval
	return mc
}

// Name returns this node's name.
func (n *Node) Name() string { return n.name }

// Addr returns the host:port other nodes gossip with this one at; give it to
// nodes that Join.
func (n *Node) Addr() string { return n.addr }

// PeerTLS returns the TLS configuration for the peer data channel: the one in
// Config.PeerTLS, or mutual TLS derived from the cluster secret.
func (n *Node) PeerTLS() *tls.Config { return n.peerTLS.Clone() }

// Members returns the live members, this node included, sorted by name.
func (n *Node) Members() []Member { return n.members.list() }

// Watch returns a channel that receives a value whenever Members may have
// changed, and a function that stops the notifications. Notifications
// coalesce: a slow reader gets one value for many changes, never a stale
// picture, and never delays gossip.
func (n *Node) Watch() (changes <-chan struct{}, stop func()) { return n.members.watch() }

// Advertise publishes the address and protocol version of this node's peer
// data channel in its metadata, or withdraws it when addr is "". An address on
// all interfaces (":7947", "0.0.0.0:7947") is published with this node's
// gossip address instead.
func (n *Node) Advertise(addr string, version uint8) error {
	if addr != "" {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("cluster: Advertise: %w", err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			addr = net.JoinHostPort(n.host, port)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.left {
		return ErrClosed
	}
	n.metaMu.Lock()
	n.meta.DataAddr, n.meta.DataVersion = addr, version
	n.metaMu.Unlock()
	n.updateMeta()
	return nil
}

// updateMeta gossips this node's metadata. UpdateNode applies it locally at
// once, then waits for the first gossip round to carry it; if that wait times
// out (every other member is leaving too, say), push/pull still spreads it.
func (n *Node) updateMeta() {
	if err := n.ml.UpdateNode(min(n.timing.TCPTimeout, 4*n.timing.GossipInterval)); err != nil {
		n.logger.Debug("metadata update not yet gossiped", "err", err)
	}
}

// Leave tells the cluster this node is going, waiting until ctx ends (at
// most TCPTimeout) for the news to be gossiped, so others drop it at once
// instead of suspecting it. The node keeps running (and answering gossip)
// until Close. Leave after Close returns ErrClosed.
func (n *Node) Leave(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.left {
		return nil
	}
	n.left = true
	wait := n.timing.TCPTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	if err := ctx.Err(); err != nil {
		wait = 0
	}
	if err := n.ml.Leave(max(wait, time.Millisecond)); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	n.logger.Info("left cluster")
	return nil
}

// Close stops gossip and every goroutine of the node and waits for them. It
// does not announce a departure: call Leave first for a graceful exit, or the
// cluster will notice the silence as a failure. Close is safe to call twice.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()

	close(n.stop)
	<-n.done
	// memberlist's goroutines outlive Shutdown and complain about the
	// sockets it closed; nobody needs to hear that.
	n.mlog.quiet.Store(true)
	err := n.ml.Shutdown()
	n.rejected.Close()
	n.members.close()
	if err != nil {
		return fmt.Errorf("cluster: shutdown: %w", err)
	}
	return nil
}

// Stats is a snapshot of a node's view of the cluster.
type Stats struct {
	Members int // live members, this node included
	Suspect int // of those, how many answered none of this node's recent probes (Member.Suspect)
	Dead    int // members that died or left, still being dialed (see Timing.ReconnectTimeout)
	// Health is memberlist's awareness score: 0 when this node keeps up
	// with its probes; higher when it is slow (overloaded, or its network
	// is), which makes it wait longer before suspecting others.
	Health int
	// Rejected counts the gossip this node refused, by kind: packets and
	// streams that do not carry the cluster's label or do not decrypt with
	// its keys (strangers, or a member with another secret), streams too
	// large for the cluster or too many at once. Kinds appear once seen.
	Rejected map[string]uint64
}

// Stats returns a snapshot of the node's view of the cluster.
func (n *Node) Stats() Stats {
	st := Stats{Health: n.ml.GetHealthScore(), Rejected: n.rejected.Counts()}
	st.Members, st.Suspect, st.Dead = n.members.counts()
	return st
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// joinError flattens memberlist's multi-line error list into one line.
func joinError(err error) error {
	var list interface{ WrappedErrors() []error }
	switch {
	case err == nil:
		return errors.New("no seed answered")
	case errors.As(err, &list):
		return errors.Join(list.WrappedErrors()...)
	}
	return err
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}
