// Package sessionmesh shares TLS sessions among the servers of a cluster, so
// that a client whose next connection lands on another server resumes its
// session there instead of paying for a full handshake. It runs inside your
// Go server processes: no Redis, no extra daemon, nothing secret on disk.
//
// Each process starts a Member. Members find each other by gossip
// (hashicorp/memberlist), encrypted with a key derived from one shared
// secret, and plug into crypto/tls through TLSConfig:
//
//	m, err := sessionmesh.Start(ctx, sessionmesh.Config{
//		Secret: secret,                    // the same on every member (ParseSecret)
//		Join:   []string{"10.0.0.5:7946"}, // any member; empty on the first
//	})
//	if err != nil {
//		log.Fatal(err) // a port in use, a duplicate name, no member answered...
//	}
//	srv := &http.Server{Addr: ":443", Handler: mux, TLSConfig: m.TLSConfig(nil)}
//	mux.Handle("/debug/sessionmesh/", m.Handler()) // status page, JSON, Prometheus
//	...
//	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
//	defer cancel()
//	srv.Shutdown(shutdown)
//	err = m.Shutdown(shutdown) // hand this member's sessions over, then leave
//
// # Two modes
//
// In Cache mode (the default) the session state stays in the cluster's
// memory: each session is a record on two members, placed by consistent
// hashing, and the client's ticket is a random 32-byte handle. A handshake
// stores its session on its own member without waiting on the network; a
// member that does not hold a session fetches it from one that does, over a
// mutual-TLS data channel, in tens of microseconds. A member that crashes
// loses nothing that had reached its replica; one that shuts down hands its
// sessions over first.
//
// In Tickets mode the session state, encrypted with a key every member
// shares, is the ticket. The cluster generates a new key every
// Config.TicketRotation, stages it on every member before it encrypts, and
// drops it when its last ticket expires; keys live in memory only. Nothing is
// stored per session, and there is no data channel.
//
// Cache mode keeps the secrets that protect a session off the client; Tickets
// mode needs no memory per session. docs/security.md compares them.
//
// # Ports
//
// Members reach each other on the gossip port (Config.BindAddr, default
// 7946, TCP and UDP) and, in Cache mode, on the data port (Config.DataAddr,
// default 7947, TCP). Clients never connect to either. To run several
// members on one host, give each its own ports (port 0 picks free ones;
// LocalConfig does so on loopback) and let the default names tell them
// apart: the host name and the gossip port.
//
// # Failing safe
//
// A cache problem never breaks a handshake: a member that is down, slow or
// partitioned away, a session that is gone, corrupt or from another Go version
// all end in a full handshake, within Config.LookupTimeout. Start, on the
// other hand, fails loudly: a port in use, a name a live member already has,
// or no member answering within Config.JoinTimeout is an error that says so
// (whether a seed refuses this member's gossip, as one with another secret
// does, or nothing listens there). A seed list that reaches only the member
// itself makes a cluster of one, with a warning in the log.
//
// # Shutting down
//
// Shutdown stops a member in the order that loses nothing: the store hands
// every session it holds to the members that take its place, the member
// tells the cluster it leaves, then everything stops. Give it a context that
// is not already done (context.WithoutCancel plus a timeout): a done context
// hands nothing over. Close stops at once, as a crash would look to the
// others.
//
// # Lower layers
//
// Member assembles packages that can be used on their own: cluster
// (membership), store (the sharded session store), cluster/ticketkeys (the
// rotating ticket keys), tlsadapter (the crypto/tls glue), status and probe
// (the status page, and a cross-server resumption check). Node, Store and
// TicketKeys return a member's parts.
package sessionmesh
