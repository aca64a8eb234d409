// Package probe checks from the outside whether TLS servers resume each
// other's sessions, the cross-server version of openssl s_client -reconnect.
//
// For two addresses A and B, Pair connects to A with a fresh client, keeps
// the session A gives, and offers it to B in a second connection, the way a
// client behind a load balancer offers its session to whichever server the
// next connection lands on. The Result says whether B resumed it. All
// probes every ordered pair of a list of addresses, each address with
// itself too; OK gives the verdict. In a readiness check, a deploy script
// or a test:
//
//	addrs := []string{"10.0.0.1:443", "10.0.0.2:443", "10.0.0.3:443"}
//	results := probe.All(ctx, addrs, probe.Config{ServerName: "www.example.com"})
//	for _, r := range results {
//		log.Printf("%s -> %s: %s %s", r.From, r.To, r, r.Note)
//	}
//	if !probe.OK(results) {
//		return errors.New("the servers do not share TLS sessions")
//	}
//
// The probe is only a client: it needs no access to the servers beyond
// connecting, and works the same against servers that are not sessionmesh.
//
// # Reading the results
//
// A Result prints as "Reused TLSv1.3" when B resumed A's session, "New
// TLSv1.3" when B made a new one, and "Failed" when a connection failed
// (Err says why). Over all pairs:
//
//   - Reused everywhere: the servers share sessions. OK is true.
//   - Reused on A -> A, New on A -> B: each server resumes its own
//     sessions but not the others'. The servers do not share sessions:
//     plain servers each with their own ticket keys, or sessionmesh nodes
//     that are not (yet) in one cluster. Or they were asked for different
//     server names (below).
//   - New on A -> A too: A does not resume at all. The Note of the result
//     often says why, for instance that A gave no session (tickets off).
//
// The baseline pairs (A -> A) do not count towards OK, unless a single
// address is probed: they tell a server that does not resume from servers
// that do not share.
//
// # Server names
//
// sessionmesh resumes a session only for the server name (SNI) it was made
// for, so that a session made for one virtual host cannot resume on
// another; crypto/tls itself does not check. Clients behind a load balancer
// ask every server for the same name, and so should the probe: set
// Config.ServerName to that name. Without it each address is asked for its
// own host, and sessionmesh rightly refuses A's session on B when their
// hosts differ: every cross pair is New, though real clients would resume.
// (An IP address is not sent as a server name: servers probed by IP address
// are all asked for none, which matches.)
//
// ServerName is also the name certificates are verified for. When it is
// empty and certificates are verified, crypto/tls offers A's session to B
// only if A's certificate is valid for B's host too; when it is not, the
// Note says so.
//
// # Connections
//
// Each connection handshakes, sends an HTTP "HEAD /" request with
// "Connection: close", and reads until the server closes the connection: a
// TLS 1.3 server sends its session ticket after the handshake, and the
// client takes it only as it reads. A server that does not speak HTTP keeps
// the connection open, and costs Config.Timeout per connection, but its
// results hold. Pairs are probed one after another, two connections each, so
// All over n addresses makes 2n² connections.
package probe
