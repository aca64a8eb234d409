// Command flood attacks a sessionmesh cluster from outside, without the
// cluster secret, and measures what each attack costs the member it aims
// at: its memory, the log lines it makes the nodes write, membership, and
// whether sessions still resume across the members meanwhile. It is how the
// bounds in docs/security.md ("Floods") were measured, and how to measure
// them again after a change.
//
// Usage:
//
//	flood suite [-demo PATH] [-d D] [-target NAME] [-run REGEXP] [-log FILE] [-v]
//	flood attack -cluster FILE [-log FILE] [-target NAME] [-d D] [-from ADDRS] NAME
//	flood watch -cluster FILE [-log FILE] [-target NAME] [-d D]
//	flood list
//
// flood runs on Linux: it reads the nodes' processes in /proc, and sends
// from addresses of 127.0.0.0/8 other than the members' own (see Source
// addresses).
//
// # The suite
//
// "flood suite" needs no arguments. It starts the demo (cmd/demo): the
// executable -demo names, or a file called demo next to flood's own
// executable, or else one it builds with "go build ./cmd/demo" in the module
// it runs in (go run ./cmd/flood suite, from the repository, does that). It
// reads the demo's standard output contract (its node lines, "ready 3
// nodes", "check ok"), then runs every attack in turn, -d each (30 s), at one
// member (-target, node-2), and prints a Markdown table, a row per attack as
// it ends:
//
//	| attack | size | target peak RSS | log lines | members | resumed | verdict |
//
// The columns:
//
//   - size: the attack as set, then what was sent, per second;
//   - target peak RSS: the target's resident memory when the attack began →
//     its peak during the attack (VmHWM, reset at the start);
//   - log lines: the lines every node wrote to standard error meanwhile;
//   - members: "all alive", "suspected", or "declared dead": some member
//     listed fewer members in its status, or the runner printed a ring line
//     with fewer nodes, or a node exited;
//   - resumed: cross-node resumption probes that resumed, of those made;
//   - verdict: "meets", or "fails:" and each bound broken (see Bounds).
//
// After the table come the details of each attack: what the attacker sent
// and saw, what the target refused by kind (sessionmesh_rejected_total), each
// node's memory, CPU and descriptors, the first log lines, every observation
// of a member suspected or dead, and the probes that did not resume. Then
// how long the suite took and the machine's load average.
//
// Before each attack the suite waits until every member sees every other
// alive, with its ring and its data connections whole. If the target then
// holds more than 16 MiB more than it did when new (the Go runtime returns
// memory to the system slowly, so the next attack would start from a heap
// it has no need to grow), or the cluster is not whole within 90 s, the
// suite restarts the demo first, and says so in the details. At the end it
// stops the demo as Ctrl-C does (SIGINT to the runner, which stops its
// nodes), and kills it if it has not stopped within 30 s; the runner dies
// with flood, and its nodes with it. With -d 30s the suite takes about 15
// minutes. It exits 0 if every attack met its bounds, 1 if one did not.
//
// # The attacks
//
// "flood list" lists them, in the suite's order, with their sizes and
// memory bounds. Each floods one port of the target:
//
//   - gossip-tcp-huge, gossip-tcp-full, gossip-tcp-many, gossip-tcp-slow:
//     gossip streams that announce a 20 MiB message; that announce and send
//     the longest message the gate accepts; the same from 64 addresses;
//     and a slowloris that sends one byte of the header and waits, from 16
//     addresses, 2 each: every slot the gate keeps for strangers.
//   - gossip-udp, gossip-udp-nolabel, gossip-udp-many: 100,000 packets a
//     second, with the cluster's label and looking encrypted, without the
//     label, and from 64 addresses.
//   - data-tcp, data-tls, data-hold: connections to the data port that
//     send junk and reset, TLS handshakes without a client certificate,
//     and connections that hold a ClientHello that never comes whole.
//   - https-idle, https-slowhdr, https-slowbody: 900 HTTPS connections
//     idle after a request, sending their headers or their body a byte a
//     second; https-cap: 1,500 keep-alive connections that make a request
//     every 10 s, more than the demo's server takes (1,000).
//   - h2-zero, h2-zero-metrics: HTTP/2 connections with a zero window, 32
//     requests each, for / and for /metrics.
//   - metrics-abort: requests for /metrics abandoned at once.
//   - tls-garbage: garbage tickets and PSK identities, each checked to make
//     a full handshake and never a failed one, then a flood of ClientHellos
//     offering five random identities.
//   - hs-flood: full handshakes from new clients, each storing a session,
//     then a check that clients who had come back before still resume.
//   - combo, combo-same-host: gossip-udp at the target and gossip-tcp-slow
//     at every member at once, the attack that used to get a member
//     declared dead; from strangers' addresses, and from the members' own.
//
// Rates and sizes are fixed, not "as fast as possible", so that a run
// measures the target rather than the machine: a connection refused at once
// is retried after 20 ms, not in a tight loop.
//
// # Bounds
//
// An attack meets its bounds when, while it ran:
//
//   - the target's resident memory grew by no more than the attack's bound
//     (flood list shows it): what the design lets that attack make a member
//     hold, with room for the garbage collector;
//   - the nodes wrote no more than 20 log lines a minute, all together;
//   - no member was declared dead (a member suspected and then cleared is
//     shown, not counted against the attack);
//   - every cross-node resumption probe resumed: once a second, a session
//     made on another member offered to the target, or one made on the
//     target offered to another, in TLS 1.3 and TLS 1.2 in turn (package
//     probe, 3 s a connection);
//   - the checks the attack makes itself passed (tls-garbage, hs-flood).
//
// # Against a demo you run
//
// "flood attack" runs one attack, watching as the suite does, against a
// demo whose output you saved; "flood watch" only watches, while you attack
// some other way:
//
//	go run ./cmd/demo > demo.out 2> demo.err &
//	go run ./cmd/flood attack -cluster demo.out -log demo.err gossip-udp
//	go run ./cmd/flood watch -cluster demo.out -log demo.err -d 1m
//
// -cluster is the demo's standard output (its node lines give the nodes'
// addresses and processes, its ring lines news of membership), followed as it
// grows; -log its standard error, whose lines are counted. Without -log no
// log line is counted.
//
// # Source addresses
//
// The gossip gate and the data port's admission treat connections from a
// member's address apart from strangers', and count strangers by address.
// On Linux every address of 127.0.0.0/8 is the loopback interface, so an
// attack sends from 127.0.0.2, or from a range such as 127.0.0.2-65 (-from),
// and looks like one stranger, or 64. The demo's members are all on
// 127.0.0.1, and so is any other process on their host that does not bind
// another address: combo-same-host sends from there, and the gate takes it
// for a member.
//
// # Exit status
//
// 0 when every attack run met its bounds (or for list, and watch), 1 when
// one did not or something failed (the demo would not start), 2 for a
// usage error. Every error is one line on standard error.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const synopsis = `
usage: flood suite [-demo PATH] [-d D] [-target NAME] [-run REGEXP] [-log FILE] [-v]
       flood attack -cluster FILE [-log FILE] [-target NAME] [-d D] [-from ADDRS] NAME
       flood watch -cluster FILE [-log FILE] [-target NAME] [-d D]
       flood list

(flood COMMAND -h for a command's flags; go doc ./cmd/flood for the manual)
`

// run dispatches to a subcommand and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "suite":
			return runSuite(args[1:], stdout, stderr)
		case "attack":
			return runAttack(args[1:], stdin, stdout, stderr)
		case "watch":
			return runWatch(args[1:], stdin, stdout, stderr)
		case "list":
			return runList(args[1:], stdout, stderr)
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stdout, strings.TrimSpace(synopsis))
			return 0
		}
	}
	fmt.Fprintln(stderr, strings.TrimSpace(synopsis))
	return exitUsage
}
