// Command demo runs a local sessionmesh cluster: several HTTPS servers, each
// its own operating-system process, that resume each other's TLS sessions.
//
// Usage:
//
//	demo [-nodes N] [-resumption cache|tickets|off] [-ticket-rotation D] [-check] [-v]
//	demo node [-join ADDR] [-join-timeout D] [-name NAME] [-addr HOST:PORT] [-gossip HOST:PORT] [-data HOST:PORT]
//	          [-resumption cache|tickets|off] [-ticket-rotation D] [-v]
//	demo probe [-servername NAME] [-k] [-tls1.2|-tls1.3] [-timeout D] ADDR ADDR...
//
// # The runner
//
// Without a subcommand, demo is the runner. It makes a fresh cluster secret
// and one self-signed certificate, and starts N node processes of its own
// executable on 127.0.0.1, on free ports. The first node starts the cluster;
// the others join it. The secret and the certificate reach the nodes in
// environment variables (SESSIONMESH_SECRET, SESSIONMESH_TLS_CERT,
// SESSIONMESH_TLS_KEY): nothing is written to disk.
//
// Standard output is a contract that scripts rely on. One line per node as it
// comes up (more key=value pairs may follow):
//
//	node <name> pid=<pid> tls=<host:port> gossip=<host:port>
//
// then, once every node has every node on its ring,
//
//	ready <N> nodes
//
// then the self-check. For every ordered pair of distinct nodes, in TLS 1.2
// and TLS 1.3, a Go client makes a session on the first node and offers it to
// the second; the line says whether the second resumed it ("Reused") or made
// a new one ("New"), or that the connection failed ("Failed", with the reason
// on standard error):
//
//	check <from> -> <to>: Reused TLSv1.3
//
// and finally "check ok" if every session was reused, "check failed" if not.
// "ready" waits until the nodes' data connections to each other are up too
// (and, in ticket mode, until they share a key), so the check measures the
// cluster as it serves, not as it starts. With -check the runner then stops the nodes and exits: 0 if the check
// passed, 1 if not. Otherwise it prints how to try the cluster by hand with
// openssl and curl, how to watch a node and probe the cluster, how to add a
// node, and serves until SIGINT (Ctrl-C) or SIGTERM, which it passes on to
// every node, waiting for them to stop gracefully. While it serves, after
// those instructions, it reports what happens to the nodes:
//
//	down <name> pid=<pid>: <how it exited> (<k> of <N> nodes still running)
//	ring <name> nodes=<k> peers=<p> [key=<id>]  (that node's ring, or its ticket key, changed)
//	rates node-1=97% (35/36) node-2=100% (12/12) node-3=-
//
// The rates line is each node's resumption rate over the last minute, from
// its /status: resumed handshakes as a percentage (rounded down, so 100%
// means every one), then resumed/all handshakes; "-" for a node that had no
// handshake in that minute, "?" for one whose status did not answer. The
// runner asks every 5 seconds, and prints the line at once and then only
// when it changes. Its own requests use one kept-alive connection per node,
// which counts as one full handshake there, and no session cache, so they
// store no session.
//
// In ticket mode (-resumption tickets) the cluster makes a new ticket key
// every -ticket-rotation (default an hour); a key encrypts after it has been
// staged for a quarter of that (at most a minute), and tickets stay valid for
// 24 rotations, at most a day. A short rotation, such as 10s, lets you watch
// keys change in the ring lines and on /status while old tickets resume.
// The demo runs a session store in every mode, so that each node's line and
// status look the same; a ticket-mode server of your own needs none.
//
// The nodes' logs go to standard error, each line prefixed with "[<name>] ".
// They show warnings and errors; -v adds debug detail.
//
// # The node command
//
// "demo node" runs one node: a cluster member (gossip), its share of the
// session store (the peer data channel) and an HTTPS server (HTTP/1.1 and
// HTTP/2) whose TLS sessions live in the cluster. It needs the cluster secret
// in SESSIONMESH_SECRET; the certificate comes from SESSIONMESH_TLS_CERT and
// SESSIONMESH_TLS_KEY (PEM), or is a fresh self-signed one if they are unset.
// With -join it joins the cluster that member belongs to; the runner prints
// the exact command that adds a node to the cluster it runs. The node prints
// its "node" line, then a "ring" line whenever its ring changes, and stops
// gracefully on SIGINT or SIGTERM.
//
// GET / on any node answers in plain text which node served it, the TLS
// version, and whether the connection resumed a session:
//
//	node: node-2
//	tls: TLSv1.3
//	resumed: yes
//	http: HTTP/2.0
//
// # Status and metrics
//
// GET /status on any node is a page for people, refreshed every 5 seconds:
// the node's resumption rate over the last minute and its handshakes per
// second, its share of the ring, the sessions it holds against its memory
// budget, how long lookups at other members take, the members with their
// state and round-trip time, why offered sessions were not resumed in the
// last minute, and in ticket mode the ticket keys. With ?format=json, or
// an Accept header naming application/json, it answers the same facts as
// JSON, with snake_case names, plus every raw counter:
//
//	node, mode, time, started, uptime_seconds
//	members[]     name, state (alive|suspect), self, rtt_seconds, gossip_addr, data_addr, started
//	cluster       alive, suspect, dead, health
//	ring          nodes, share, fair_share, peers_connected, rebalancing, changes
//	sessions      held, bytes, max_bytes
//	last_minute   seconds, handshakes, resumed, full, resumption_rate (null without handshakes),
//	              misses{reason: n}, peer_latency{lookups, mean_seconds, p50_seconds, p99_seconds},
//	              intervals[]{from, seconds, resumed, full}
//	ticket_keys[] id, state (staged|active|retired), created, activate, expire, age_seconds (ticket mode)
//	counters      handshakes[]{version, resumed, full}, resumption_hits, resumption_misses{reason: n},
//	              tickets_issued, ticket_issue_errors, ticket_keys_generated (ticket mode),
//	              store{every field of store.Stats: sessions, ..., copies_pending, peer_latency, ...}
//
// status_json.go documents every field. "The last minute" runs from the
// oldest of the samples each node takes of its counters every 5 seconds
// that is less than a minute old; last_minute.seconds says exactly how long.
//
// GET /metrics serves the node's Prometheus metrics: the sessionmesh
// collector (package tlsadapter/metrics), the Go runtime's and the
// process's, from a registry of the node's own.
//
// # The probe command
//
// "demo probe" checks cross-node resumption on any TLS endpoints, the demo's
// or yours: the cross-node version of "openssl s_client -reconnect". For
// every ordered pair of addresses A, B, A to A included as a baseline, it
// makes a session on A with a fresh client and offers it to B:
//
//	probe <A> -> <B>: Reused TLSv1.3
//
// or "New" (B made a new session), or "Failed" (a connection failed; why,
// on standard error). It speaks just enough HTTP to let a TLS 1.3 server
// deliver its ticket (HEAD /, then reads until the server closes). Behind a
// load balancer, give -servername the name clients use: sessionmesh resumes
// a session only for the server name it was made for. It exits 0 if every
// pair of different addresses resumed, 1 if not, 2 for a usage error.
// Against the demo's nodes (-k: the certificate is self-signed) every pair
// is Reused; against servers that do not share sessions, every cross pair
// is New.
//
// # Exit status
//
// 0 on success, 1 when something failed (the self-check, a node that cannot
// start or join), 2 for a usage error. Every error is one line on standard
// error.
package main

import (
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to the node or probe command or the runner and returns the
// exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "node":
			return runNode(args[1:], stdout, stderr)
		case "probe":
			return runProbe(args[1:], stdout, stderr)
		}
	}
	return runRunner(args, stdout, stderr)
}
