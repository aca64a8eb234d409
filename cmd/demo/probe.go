package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/sessionmesh/sessionmesh/probe"
)

// The probe command: for every ordered pair of addresses, make a session on
// the first and offer it to the second (see the package doc).

const probeSynopsis = `
usage: demo probe [-servername NAME] [-k] [-tls1.2|-tls1.3] [-timeout D] ADDR ADDR...

For every ordered pair of addresses A, B (A to A too, as a baseline),
makes a TLS session on A and offers it to B, and prints whether B resumed it:
"probe A -> B: Reused TLSv1.3" or "New ..." ("Failed ..." if a connection
failed, with the reason on standard error). Exits 0 if every pair of
different addresses resumed, 1 if not. An ADDR without a port means port 443.
`

// probeOptions are the probe command's flags and arguments.
type probeOptions struct {
	serverName string
	insecure   bool
	version    uint16 // 0: whatever client and server agree on
	timeout    time.Duration
	addrs      []string
}

func parseProbeFlags(args []string, stdout io.Writer) (probeOptions, error) {
	var o probeOptions
	var tls12, tls13 bool
	fs := flag.NewFlagSet("demo probe", flag.ContinueOnError)
	fs.Usage = usage(fs, probeSynopsis)
	fs.StringVar(&o.serverName, "servername", "", "the server name (SNI) to ask every address for, as clients do behind a load balancer (default: each address's host)")
	fs.BoolVar(&o.insecure, "k", false, "do not verify the servers' certificates")
	fs.BoolVar(&tls12, "tls1.2", false, "use TLS 1.2 only")
	fs.BoolVar(&tls13, "tls1.3", false, "use TLS 1.3 only")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each connection, from dialing to the server's last byte")
	// parseFlags refuses arguments; the addresses are arguments here.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return o, err
		}
		return o, fmt.Errorf("%v (-h lists the flags)", err)
	}
	switch {
	case tls12 && tls13:
		return o, errors.New("-tls1.2 and -tls1.3: choose one")
	case tls12:
		o.version = tls.VersionTLS12
	case tls13:
		o.version = tls.VersionTLS13
	}
	if o.timeout <= 0 {
		return o, fmt.Errorf("-timeout %v: must be positive", o.timeout)
	}
	if fs.NArg() == 0 {
		return o, errors.New("no address to probe (-h for usage)")
	}
	for _, a := range fs.Args() {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "443")
			if _, _, err := net.SplitHostPort(a); err != nil {
				return o, fmt.Errorf("%q: want host:port", a)
			}
		}
		o.addrs = append(o.addrs, a)
	}
	return o, nil
}

// runProbe is the probe command; it returns the exit status.
func runProbe(args []string, stdout, stderr io.Writer) int {
	opts, err := parseProbeFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo probe: %s\n", oneLine(err))
		return exitUsage
	}
	cfg := probe.Config{ServerName: opts.serverName, InsecureSkipVerify: opts.insecure, Version: opts.version, Timeout: opts.timeout}
	results := probe.All(context.Background(), opts.addrs, cfg)
	for _, r := range results {
		switch {
		case r.Err != nil:
			fmt.Fprintf(stderr, "demo probe: %s -> %s: %s\n", r.From, r.To, oneLine(r.Err))
		case r.Note != "":
			fmt.Fprintf(stderr, "demo probe: %s -> %s: %s\n", r.From, r.To, r.Note)
		}
		fmt.Fprintf(stdout, "probe %s -> %s: %s\n", r.From, r.To, r)
	}
	if !probe.OK(results) {
		return 1
	}
	return 0
}
