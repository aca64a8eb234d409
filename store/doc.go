// Package store is sessionmesh's sharded session store: a key-value store for
// TLS session records, spread over the members of a cluster.
//
// # Where a record lives
//
// Every member with a data channel sits on a consistent-hash ring (package
// ring), built from the member list, so every member that sees the same
// members computes the same owner for an ID. A record lives in the owner's
// memory (package shard): expiring, bounded in bytes, least recently used
// first out.
//
// A node that stores a new session asks NewID for an ID: a random 32-byte ID
// that the ring assigns to the node itself. Put is then a local operation, and
// the TLS handshake that stores the session never waits on the network.
//
// # Reading
//
// Get looks in local memory first, then asks the owner over the peer
// protocol (package peer): one persistent TLS connection per peer, many
// requests in flight on it, each with its own deadline. Concurrent Gets of
// one ID share one request. A peer that failed recently is skipped at once
// instead of being dialed again on every lookup. A request a node receives is
// answered from its own memory and never forwarded, so nodes that momentarily
// disagree about the ring cannot loop.
//
// # Security
//
// The data channel is TLS 1.3 with mutual authentication (Config.TLS, usually
// cluster.Node.PeerTLS): only members holding the cluster secret can read or
// write a record. Records are msgpack arrays (Record.MarshalBinary), and every
// length in a frame or record from the network is checked before anything is
// allocated for it (package internal/wire).
package store
