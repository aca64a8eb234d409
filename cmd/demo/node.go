package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// nodeOptions are the flags of the node command.
type nodeOptions struct {
	name        string
	join        string        // a member's gossip address; "" starts a new cluster
	joinTimeout time.Duration // how long to keep trying to join
	addr        string        // HTTPS
	gossip      string        // cluster membership
	data        string        // peer data channel
	stopOnEOF   bool          // stop when standard input closes (the runner's pipe)
	mode        modeOptions
}

const nodeSynopsis = `
usage: demo node [-join ADDR] [flags]

Runs one sessionmesh node: a cluster member and an HTTPS server whose TLS
sessions any other member can resume. The cluster secret comes from
SESSIONMESH_SECRET; the certificate from SESSIONMESH_TLS_CERT and
SESSIONMESH_TLS_KEY (PEM), or a fresh self-signed one.
`

func parseNodeFlags(args []string, stdout io.Writer) (nodeOptions, error) {
	o := nodeOptions{}
	fs := flag.NewFlagSet("demo node", flag.ContinueOnError)
	fs.Usage = usage(fs, nodeSynopsis)
	fs.StringVar(&o.join, "join", "", "gossip address (host:port) of any member of the cluster to join; without it, a new cluster starts")
	fs.DurationVar(&o.joinTimeout, "join-timeout", 10*time.Second, "how long to keep trying to reach -join before giving up")
	fs.StringVar(&o.name, "name", "", "this node's name, unique in the cluster (default node-<pid>)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "HTTPS address (port 0: a free port)")
	fs.StringVar(&o.gossip, "gossip", "127.0.0.1:0", "gossip address, TCP and UDP (port 0: a free port)")
	fs.StringVar(&o.data, "data", "127.0.0.1:0", "peer data channel address (port 0: a free port)")
	fs.BoolVar(&o.stopOnEOF, "stop-on-stdin-eof", false, "stop when standard input closes; the runner sets it, so that its nodes never outlive it")
	o.mode.register(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return o, err
	}
	if err := o.mode.validate(); err != nil {
		return o, err
	}
	if o.name == "" {
		o.name = fmt.Sprintf("node-%d", os.Getpid())
	}
	if strings.ContainsAny(o.name, " \t\r\n=") {
		return o, fmt.Errorf("-name %q: want a name without spaces or '='", o.name)
	}
	if o.joinTimeout <= 0 {
		return o, fmt.Errorf("-join-timeout %v: must be positive", o.joinTimeout)
	}
	for _, a := range []struct{ flag, addr string }{{"-addr", o.addr}, {"-gossip", o.gossip}, {"-data", o.data}, {"-join", o.join}} {
		if a.addr == "" && a.flag == "-join" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return o, fmt.Errorf("%s %q: want host:port", a.flag, a.addr)
		}
	}
	return o, nil
}

// runNode is the node command: it runs one node until SIGINT or SIGTERM,
// which stop it gracefully (its sessions go to the other nodes), or until
// its standard input ends, with -stop-on-stdin-eof: the runner stopping the
// whole cluster, or gone, when there is nobody to hand sessions to.
func runNode(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "demo node: %s\n", oneLine(err))
		return code
	}
	opts, err := parseNodeFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(exitUsage, err)
	}
	secret, err := secretFromEnv(os.Getenv)
	if err != nil {
		return fail(exitUsage, err)
	}
	cert, err := certFromEnv(os.Getenv)
	if err != nil {
		return fail(exitUsage, err)
	}
	logger := newNodeLogger(stderr, opts.mode.verbose)

	// Caught until runNode returns, so a second signal cannot cut the
	// graceful stop short; the stop is bounded instead.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runnerDone <-chan struct{}
	if opts.stopOnEOF {
		done, stopWatch, err := watchStdin()
		if err != nil {
			return fail(1, err)
		}
		defer stopWatch()
		runnerDone = done
	}

	n, err := startNode(ctx, opts, secret, cert, logger)
	if err != nil {
		return fail(1, err)
	}
	fmt.Fprintln(stdout, n.line())
	ring := reportRing(n, stdout)
	defer ring.stop()

	select {
	case <-ctx.Done():
		n.shutdown()
	case <-runnerDone:
		n.close()
	case <-n.done:
		n.close()
		return fail(1, fmt.Errorf("HTTPS server stopped: %w", n.serveErr))
	}
	return 0
}

// oneLine returns err's text on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
