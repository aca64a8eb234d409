// Package tlsadapter plugs a sessionmesh store into crypto/tls, so that any
// member of a cluster resumes a TLS session that any other member created.
//
// Cache is "cache mode": the ticket a client gets is a random 32-byte ID, and
// the session state stays in the cluster's store. Its WrapSession and
// UnwrapSession methods fit the tls.Config fields of the same names; TLSConfig
// sets both on a copy of a config:
//
//	cache, err := tlsadapter.NewCache(st, tlsadapter.CacheConfig{})
//	srv := &http.Server{TLSConfig: cache.TLSConfig(base)}
//
// Tickets is "ticket mode": the session state, encrypted with keys every
// member shares (package ticketkeys), is the ticket; nothing is stored and no
// handshake waits on the network. ClientCache is a tls.ClientSessionCache
// for the other direction: members that are TLS clients of an upstream share
// their sessions with it.
//
// # Failing safe
//
// crypto/tls ends the client's connection if UnwrapSession returns an error,
// so it never does: a ticket that is not ours, a session that is gone or
// expired, a member that is down or slow, a record that does not decode (a
// session made by a node on another Go version) — each is (nil, nil), a full
// handshake, and is counted under its MissReason in Stats. A lookup waits at
// most Config.LookupTimeout. WrapSession, which would end the connection too,
// always returns a ticket, even when the session could not be stored.
//
// # Server names
//
// crypto/tls does not check on resumption that a session was made for the
// server name (SNI) the client asks for now. A cache shared by several virtual
// hosts must, or a session from one host resumes on another. Cache stores the
// server name with each session and resumes only for the same name.
//
// # What Go resumes
//
// Go servers resume TLS 1.2 only through session tickets, never through
// session IDs: a TLS 1.2 client that does not support tickets always does a
// full handshake. TLS 1.3 resumption saves the certificate signature but
// still runs a key exchange; TLS 1.2 resumption skips all public-key work.
package tlsadapter
