package main

import (
	"fmt"
	"io"
	"strings"
)

// servingLine ends the instructions; the runner then serves.
const servingLine = "Serving until Ctrl-C (or SIGTERM), which stops every node."

// writeInstructions tells a person how to see cross-node resumption with their
// own tools, how to watch a node and probe the cluster, how to add a node,
// and how to kill one. Every command is exact:
// it can be pasted as it is.
//
// addEnv goes before the command that adds a node (it gives it the secret,
// by a file's name); sessionFile is where openssl keeps its session and
// cookieJar where curl keeps its cookies, in the runner's private
// directory. Ticket mode has no web sessions: cookieJar is then "".
func writeInstructions(w io.Writer, nodes []nodeLine, addEnv, sessionFile, cookieJar string) {
	a, b := nodes[0], nodes[1]
	request := `printf 'GET / HTTP/1.0\r\n\r\n'`
	filter := `grep -E '^(New|Reused),|^(node|resumed):'`
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	p("")
	p("Try it by hand. Save a TLS session from %s, then offer it to %s:", a.name, b.name)
	p("")
	p("  %s | openssl s_client -connect %s -servername localhost -ign_eof -sess_out %s | %s", request, a.tls, sessionFile, filter)
	p("  %s | openssl s_client -connect %s -servername localhost -ign_eof -sess_in %s | %s", request, b.tls, sessionFile, filter)
	p("")
	p("The first prints \"New, TLSv1.3\" and \"resumed: no\"; the second prints \"Reused, TLSv1.3\"")
	p("and \"resumed: yes\": %s resumed a session that %s made. Add -tls1_2 after s_client in", b.name, a.name)
	p("both commands to see the same in TLS 1.2. openssl's \"verify error\" is expected: the")
	p("certificate is self-signed. (TLS 1.3 needs OpenSSL 1.1.1 or later.)")
	p("")
	p("Ask a node who answered (-k: the certificate is self-signed):")
	p("")
	p("  curl -k https://%s/", a.tls)
	p("")
	if cookieJar != "" {
		c := nodes[len(nodes)-1]
		p("Count visits in a web session (scs, cookie \"session\") that every node shares: each")
		p("visit counts on from the last, whichever node it lands on, also after you kill a node")
		p("(below), and after a logout it starts again at 1. A browser does the same across the")
		p("ports of 127.0.0.1.")
		p("")
		p("  curl -sk -b %s -c %s https://%s/visits", cookieJar, cookieJar, a.tls)
		p("  curl -sk -b %s -c %s https://%s/visits", cookieJar, cookieJar, b.tls)
		p("  curl -sk -b %s -c %s https://%s/visits", cookieJar, cookieJar, c.tls)
		p("  curl -sk -b %s -c %s -X POST https://%s/logout", cookieJar, cookieJar, a.tls)
		p("")
	}
	p("Watch a node: open https://%s/status in a browser (accept the self-signed", a.tls)
	p("certificate), or ask it for JSON or Prometheus metrics:")
	p("")
	p("  curl -sk 'https://%s/status?format=json'", a.tls)
	p("  curl -sk https://%s/metrics | grep '^sessionmesh_handshakes'", a.tls)
	p("")
	p("Probe resumption between every pair of nodes, as you would your own servers:")
	p("")
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.tls
	}
	p("  go run ./cmd/demo probe -k %s", strings.Join(addrs, " "))
	p("")
	p("Add a node to the cluster (from another terminal, in this directory; it is yours, not the")
	p("runner's: stop it with Ctrl-C there, and it hands its sessions to the others):")
	p("")
	p("  %sgo run ./cmd/demo node -join %s", addEnv, a.gossip)
	p("")
	p("Kill a node and watch the others carry on:")
	p("")
	p("  kill -9 %d    # %s", b.pid, b.name)
	p("")
	p("%s", servingLine)
	io.WriteString(w, s.String())
}
