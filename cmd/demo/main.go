// Command demo runs a local sessionmesh cluster: several HTTPS servers, each
// its own operating-system process, that resume each other's TLS sessions.
//
// Usage:
//
//	demo [-nodes N] [-resumption cache|tickets|off] [-ticket-rotation D] [-check] [-v]
//	demo node [-join ADDR] [-name NAME] [-addr HOST:PORT] [-gossip HOST:PORT] [-data HOST:PORT] [-v]
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
// openssl and curl, how to add a node, and serves until SIGINT (Ctrl-C) or
// SIGTERM, which it passes on to every node, waiting for them to stop
// gracefully. While it serves it reports what happens to the nodes:
//
//	down <name> pid=<pid>: <how it exited> (<k> of <N> nodes still running)
//	ring <name> nodes=<k> peers=<p> [key=<id>]  (that node's ring, or its ticket key, changed)
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

// run dispatches to the node command or the runner and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "node" {
		return runNode(args[1:], stdout, stderr)
	}
	return runRunner(args, stdout, stderr)
}
