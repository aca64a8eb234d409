// Command flood attacks a sessionmesh cluster from outside, without the
// cluster secret, and measures what each attack costs the member it aims
// at: its memory, the log lines it makes the nodes write, membership, and
// whether sessions still resume across the members meanwhile. It is how the
// bounds in docs/security.md ("Floods") were measured, and how to measure
// them again after a change.
//
// Usage:
//
//	flood attack -cluster FILE [-log FILE] [-target NAME] [-d D] [-from ADDRS] NAME
//	flood watch -cluster FILE [-log FILE] [-target NAME] [-d D]
//	flood list
//
// flood runs on Linux: it reads the nodes' processes in /proc, and sends
// from addresses of 127.0.0.0/8 other than the members' own (see Source
// addresses).
//
// # The attacks
//
// "flood list" lists them, with their sizes and memory bounds. Each floods
// one port of the target:
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
// "flood attack" runs one attack, watching the cluster meanwhile, against a
// demo whose output you saved, and prints a Markdown table row (the attack;
// its size; the target's resident memory when it began → its peak, VmHWM;
// the log lines the nodes wrote; whether a member was suspected or declared
// dead; the probes that resumed; the verdict) and the details; "flood
// watch" only watches, while you attack some other way:
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
// 0 when the attack met its bounds (or for list, and watch), 1 when it did
// not or something failed, 2 for a usage error. Every error is one line on standard error.
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
usage: flood attack -cluster FILE [-log FILE] [-target NAME] [-d D] [-from ADDRS] NAME
       flood watch -cluster FILE [-log FILE] [-target NAME] [-d D]
       flood list

(flood COMMAND -h for a command's flags; go doc ./cmd/flood for the manual)
`

// run dispatches to a subcommand and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
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
