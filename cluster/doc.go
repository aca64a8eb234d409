// Package cluster is sessionmesh's membership layer: which nodes are in the
// cluster, how to reach each one, and how they authenticate each other.
//
// A Node wraps a hashicorp/memberlist gossip member. Nodes find each other
// through seed addresses (Join), notice failures by probing each other, and
// spread news by gossip with periodic full-state push/pull, so every node
// converges on the same member list without a coordinator.
//
// # One secret
//
// Every node of a cluster is configured with the same secret (NewSecret,
// EncodeSecret, ParseSecret). Two keys are derived from it with HKDF: the AES
// key that encrypts and authenticates all gossip, and an Ed25519 certificate
// authority from which every node issues itself a short-lived certificate for
// the peer data channel (PeerTLSConfig). Nothing is distributed or written to
// disk, and a process without the secret can neither join nor talk to a peer.
//
// # Members and metadata
//
// Each member advertises the address and protocol version of its peer data
// channel in its gossip metadata (Advertise). Members returns the live members,
// sorted by name, identically on every node once gossip has converged; Watch
// tells when that list changes. The callbacks memberlist makes while holding
// its lock only copy data and signal; nothing runs user code under that lock.
//
// # Presets
//
// LANConfig is for nodes on one network, LocalConfig for several nodes on one
// host (tests, the demo). With LANTiming a hundred nodes learn of a join in
// two to three seconds, and of a crash in about six; docs/operations.md has
// the measurements and the command that repeats them.
//
// # Lifecycle
//
//	n, err := cluster.New(cfg)         // listening, a cluster of one
//	err = n.Join(ctx, "10.0.0.1:7946") // retried (and logged) until a seed answers or ctx ends
//	...
//	err = n.Leave(ctx)                 // tell the others, so they need not detect a failure
//	n.Close()                          // stop; safe to call twice
//
// Most programs use the sessionmesh package instead, which runs a Node for
// them with the rest of a member.
//
// # Names
//
// Members are told apart by name. The default, host:port of the gossip
// listener, is unique on a host and stays the same across restarts on a fixed
// port. Join refuses (ErrNameTaken) to join under the name of a live member.
package cluster
