package cluster

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config describes one node. The constructor copies it and never writes back.
// Only Secret is required; every other field documents what its zero value means.
type Config struct {
	// Name identifies the node in the cluster and must be unique in it.
	// A process that restarts should keep its name (see Timing.DeadNodeReclaimTime).
	// Default: the host name.
	Name string

	// BindAddr is the host:port the gossip protocol listens on, TCP and UDP.
	// Port 0 picks a free port (see Node.Addr). Default ":7946", all interfaces.
	BindAddr string

	// AdvertiseAddr is the host:port other nodes reach this one at, when that
	// differs from BindAddr (NAT, containers). Default: BindAddr's address, or a
	// private address of this host when BindAddr is all interfaces.
	AdvertiseAddr string

	// Secret is the cluster secret, at least MinSecretLen bytes, the same on
	// every node (NewSecret makes one). Gossip is encrypted and authenticated
	// with a key derived from it, and so is the peer data channel unless PeerTLS
	// is set. A node without it can neither join nor fetch a session. Required.
	Secret []byte

	// OldSecrets are accepted from other nodes but never used to send; they
	// let a cluster move to a new Secret one node at a time. Default: none.
	OldSecrets [][]byte

	// Label is sent with every gossip message; messages with another label are
	// dropped before decryption. It keeps separate clusters that share hosts or
	// ports from ever merging. Default "sessionmesh".
	Label string

	// PeerTLS, when set, is used for the peer data channel instead of the
	// mutual TLS derived from Secret: bring your own PKI. It must work for both
	// ends of a connection (Certificates or GetCertificate and
	// GetClientCertificate; ClientAuth that verifies; RootCAs and ClientCAs).
	// Default: derived from Secret (see PeerTLSConfig).
	PeerTLS *tls.Config

	// Logger receives membership events and memberlist's own log lines.
	// Default: discard.
	Logger *slog.Logger

	// Transport, if set, carries gossip instead of memberlist's own UDP and
	// TCP listeners on BindAddr (whose host and port are then ignored): for
	// unusual networks, and for tests that cut the network. Default: nil.
	Transport memberlist.NodeAwareTransport

	// Timing tunes failure detection and gossip; zero fields take LANTiming's
	// values. LocalConfig and LANConfig fill it in.
	Timing Timing
}

// Timing holds the memberlist knobs that decide how fast a cluster converges
// and notices a dead member, traded against traffic. Zero fields take the value
// from LANTiming. See docs/operations.md for measured convergence figures.
type Timing struct {
	// ProbeInterval is how often each node probes one random member.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack before asking others
	// to probe indirectly. Set it above the 99th percentile round trip.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a member stays suspect before it is
	// declared dead: at least SuspicionMult × max(1, log10(members)) ×
	// ProbeInterval. memberlist starts at six times that and shortens it
	// as other members confirm the suspicion.
	SuspicionMult int
	// GossipInterval is how often a node sends queued gossip to GossipNodes members.
	GossipInterval time.Duration
	// GossipNodes is how many random members each gossip round reaches.
	GossipNodes int
	// RetransmitMult is how many times (× log10(members+1)) a message is
	// gossiped. Too low and news of a join falls out of the queue in large
	// clusters, leaving push/pull to repair it.
	RetransmitMult int
	// PushPullInterval is how often a node syncs its full state with a random
	// member over TCP: the anti-entropy that repairs anything gossip lost.
	PushPullInterval time.Duration
	// TCPTimeout bounds push/pull and join connections.
	TCPTimeout time.Duration
	// DeadNodeReclaimTime is how long after a member was declared dead its
	// name may come back from a new address (a restarted process on a new
	// port or pod IP). A member that left gracefully may come back at once.
	DeadNodeReclaimTime time.Duration
	// ReconnectInterval is how often a node tries to reach members it
	// declared dead. memberlist never does, so after a partition the two
	// sides would stay apart. Attempts back off, doubling up to 16 times the
	// interval, and stop after ReconnectTimeout.
	ReconnectInterval time.Duration
	// ReconnectTimeout is how long after a member died reconnection stops.
	ReconnectTimeout time.Duration
}

// LANTiming is for nodes on one network: a crash is detected in about six
// seconds, and 100 nodes learn of a join in two to three.
func LANTiming() Timing {
	return Timing{
		ProbeInterval:       time.Second,
		ProbeTimeout:        500 * time.Millisecond,
		SuspicionMult:       4,
		GossipInterval:      200 * time.Millisecond,
		GossipNodes:         4,
		RetransmitMult:      6,
		PushPullInterval:    15 * time.Second,
		TCPTimeout:          5 * time.Second,
		DeadNodeReclaimTime: 10 * time.Second,
		ReconnectInterval:   10 * time.Second,
		ReconnectTimeout:    24 * time.Hour,
	}
}

// LocalTiming is for nodes on one host (tests, the demo): faster probes and
// gossip, since loopback round trips are tiny and traffic is free.
func LocalTiming() Timing {
	return Timing{
		ProbeInterval:       500 * time.Millisecond,
		ProbeTimeout:        250 * time.Millisecond,
		SuspicionMult:       3,
		GossipInterval:      50 * time.Millisecond,
		GossipNodes:         4,
		RetransmitMult:      6,
		PushPullInterval:    2 * time.Second,
		TCPTimeout:          2 * time.Second,
		DeadNodeReclaimTime: time.Second,
		ReconnectInterval:   time.Second,
		ReconnectTimeout:    time.Hour,
	}
}

// LANConfig returns a Config for a node on a LAN, listening on port 7946 of
// every interface. Set Name (if the host name is not unique) and Secret.
func LANConfig() Config {
	return Config{BindAddr: ":7946", Timing: LANTiming()}
}

// LocalConfig returns a Config for one of several nodes on this host:
// 127.0.0.1 on a free port, local timing. Set Name and Secret.
func LocalConfig() Config {
	return Config{BindAddr: "127.0.0.1:0", Timing: LocalTiming()}
}

// withDefaults fills the zero fields of t from LANTiming.
func (t Timing) withDefaults() Timing {
	d := LANTiming()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	seti := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&t.ProbeInterval, d.ProbeInterval)
	set(&t.ProbeTimeout, d.ProbeTimeout)
	seti(&t.SuspicionMult, d.SuspicionMult)
	set(&t.GossipInterval, d.GossipInterval)
	seti(&t.GossipNodes, d.GossipNodes)
	seti(&t.RetransmitMult, d.RetransmitMult)
	set(&t.PushPullInterval, d.PushPullInterval)
	set(&t.TCPTimeout, d.TCPTimeout)
	set(&t.DeadNodeReclaimTime, d.DeadNodeReclaimTime)
	set(&t.ReconnectInterval, d.ReconnectInterval)
	set(&t.ReconnectTimeout, d.ReconnectTimeout)
	return t
}
