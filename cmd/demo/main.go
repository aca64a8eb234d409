// Command demo runs a local sessionmesh cluster: several HTTPS servers, each
// its own operating-system process, that resume each other's TLS sessions.
// Each node is a sessionmesh.Member, started as an embedder would start one;
// the demo itself is orchestration.
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
// (or takes SESSIONMESH_SECRET) and one self-signed certificate, and starts N
// node processes of its own executable on 127.0.0.1, on free ports. The first
// node starts the cluster; the others join it. The secret and the
// certificate reach the nodes in their environment (SESSIONMESH_SECRET,
// SESSIONMESH_TLS_CERT, SESSIONMESH_TLS_KEY), never a file, and the secret is
// never printed.
//
// Standard output is a contract that scripts rely on. First the runner's own
// process ID:
//
//	demo pid=<pid>
//
// then one line per node as it comes up (more key=value pairs may follow;
// ticket mode has no data port and prints none):
//
//	node <name> pid=<pid> tls=<host:port> gossip=<host:port> [data=<host:port>]
//
// then, once every node sees every other (in cache mode, has it on its ring
// with a live data connection; in ticket mode, encrypts with the same key),
//
//	ready <N> nodes
//
// then the self-check. For every ordered pair of distinct nodes, in TLS 1.2
// and TLS 1.3, a Go client makes a session on the first node and offers it to
// the second (package probe); the line says whether the second resumed it
// ("Reused") or made a new one ("New"), or that the connection failed
// ("Failed", with the reason on standard error):
//
//	check <from> -> <to>: Reused TLSv1.3
//
// and finally "check ok" if every session was reused, "check failed" if not.
// With -check the runner then stops the nodes and exits: 0 if the check
// passed, 1 if not. Otherwise it prints how to try the cluster by hand with
// openssl and curl, how to watch a node and probe the cluster, how to add a
// node, and serves until SIGINT (Ctrl-C) or SIGTERM. While it serves it
// reports what happens to the nodes:
//
//	down <name> pid=<pid>: <how it exited> (<k> of the runner's <N> nodes still running)
//	ring <name> nodes=<k> peers=<p> [key=<id>]  (that node's ring, or its ticket key, changed)
//	rates node-1=97% (35/36) node-2=100% (12/12) node-3=-
//
// The rates line is each node's resumption rate over the last minute, from
// its /status: resumed handshakes as a percentage (rounded down, so 100%
// means every one), then resumed/all handshakes; "-" for a node that had no
// handshake in that minute, "?" for one whose status did not answer. The
// runner asks every 5 seconds over one kept-alive connection per node, and
// prints the line at once and then only when it changes.
//
// On Ctrl-C the runner stops every node at once and says once that their
// sessions go with them: the whole cluster stops, so there is nobody to hand
// them to. The nodes run in process groups of their own, so the terminal's
// Ctrl-C reaches the runner alone; a node whose runner dies (even by
// SIGKILL) stops too.
//
// In ticket mode (-resumption tickets) the cluster makes a new ticket key
// every -ticket-rotation (default an hour); a key encrypts after it has been
// staged for a quarter of that (at most a minute), and tickets stay valid for
// 24 rotations, at most a day. A short rotation, such as 10s, lets you watch
// keys change in the ring lines and on /status while old tickets resume.
// Off mode (-resumption off) turns tickets off, for comparison.
//
// The nodes' logs go to standard error, each line prefixed with "[<name>] ".
// They show warnings and errors; -v adds debug detail.
//
// # The node command
//
// "demo node" runs one node: a sessionmesh member and an HTTPS server
// (HTTP/1.1 and HTTP/2) whose TLS sessions live in the cluster. It needs
// the cluster secret, in SESSIONMESH_SECRET, or from the runner through the
// socket SESSIONMESH_SECRET_SOCKET names (the runner prints the exact command
// that adds a node); the certificate comes from SESSIONMESH_TLS_CERT and
// SESSIONMESH_TLS_KEY (PEM), or is a fresh self-signed one. With -join it
// joins the cluster that member belongs to. It prints its "node" line, then a
// "ring" line whenever its view changes. SIGINT or SIGTERM stop it
// gracefully: it hands its sessions to the others and leaves.
//
// GET / on any node answers in plain text which node served it, the TLS
// version, and whether the connection resumed a session:
//
//	node: node-2
//	tls: TLSv1.3
//	resumed: yes
//	http: HTTP/2.0
//
// GET /status is the member's status page, or its JSON with ?format=json,
// and GET /metrics its Prometheus metrics (sessionmesh.Member.Handler;
// package status documents every field).
//
// # The probe command
//
// "demo probe" checks cross-node resumption on any TLS endpoints, the demo's
// or yours, with package probe: for every ordered pair of addresses A, B, A
// to A included as a baseline, it makes a session on A with a fresh client
// and offers it to B, and prints
//
//	probe <A> -> <B>: Reused TLSv1.3
//
// or "New", or "Failed" (why, on standard error). Behind a load balancer,
// give -servername the name clients use: sessionmesh resumes a session only
// for the server name it was made for. It exits 0 if every pair of
// different addresses resumed, 1 if not, 2 for a usage error.
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
