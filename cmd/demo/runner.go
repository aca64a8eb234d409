package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// Bounds on the runner's waits, generous for a busy machine.
const (
	readyTimeout = 60 * time.Second // from starting the first node to "ready"
	stopTimeout  = 15 * time.Second // for every node to stop after SIGTERM; then SIGKILL
	maxNodes     = 100              // more would be a load test of this machine, not a demo
)

// runnerOptions are the runner's flags.
type runnerOptions struct {
	nodes int
	check bool
	mode  modeOptions
}

const runnerSynopsis = `
usage: demo [flags]
       demo node -join ADDR [flags]    (demo node -h for its flags)
       demo probe [flags] ADDR...      (demo probe -h for its flags)

Starts a local cluster of sessionmesh HTTPS nodes, each its own process,
shows that every node resumes the TLS sessions of every other, and serves
until Ctrl-C.
`

func parseRunnerFlags(args []string, stdout io.Writer) (runnerOptions, error) {
	var o runnerOptions
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Usage = usage(fs, runnerSynopsis)
	fs.IntVar(&o.nodes, "nodes", 3, fmt.Sprintf("how many node processes to start, 2 to %d", maxNodes))
	fs.BoolVar(&o.check, "check", false, "run the self-check, stop, and exit: 0 if every cross-node resumption was reused, 1 if not")
	o.mode.register(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return o, err
	}
	if err := o.mode.validate(); err != nil {
		return o, err
	}
	if o.nodes < 2 || o.nodes > maxNodes {
		return o, fmt.Errorf("-nodes %d: want 2 to %d (sessions resume across nodes, so two at least)", o.nodes, maxNodes)
	}
	return o, nil
}

// runRunner is the demo without a subcommand.
func runRunner(args []string, stdout, stderr io.Writer) int {
	opts, err := parseRunnerFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %s\n", oneLine(err))
		return exitUsage
	}
	r, err := newRunner(opts, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %s\n", oneLine(err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return r.run(ctx)
}

// runner starts the node processes and watches them. Its event loop (run
// and the phases it calls) is the only goroutine that touches children.
type runner struct {
	opts   runnerOptions
	exe    string
	env    []string // the nodes' environment, secrets included
	secret string   // encoded, for the command that adds a node
	roots  *x509.CertPool
	stdout *syncWriter
	stderr *syncWriter

	phase    phase
	children []*child
	events   chan event
	wg       sync.WaitGroup // one goroutine per child
}

// newRunner makes the cluster's secret and certificate.
func newRunner(opts runnerOptions, stdout, stderr io.Writer) (*runner, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find my own executable to start nodes: %w", err)
	}
	secret := cluster.NewSecret()
	cert, roots, err := selfsigned.New()
	if err != nil {
		return nil, err
	}
	env, err := nodeEnv(os.Environ(), secret, cert)
	if err != nil {
		return nil, err
	}
	return &runner{
		opts:   opts,
		exe:    exe,
		env:    env,
		secret: cluster.EncodeSecret(secret),
		roots:  roots,
		stdout: &syncWriter{w: stdout},
		stderr: &syncWriter{w: stderr},
		events: make(chan event),
	}, nil
}

var errInterrupted = errors.New("interrupted")

// run runs the demo until ctx ends (or, with -check, until the check is
// done) and returns the exit status. Every node has stopped when it returns.
func (r *runner) run(ctx context.Context) int {
	defer r.stop()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	err := r.startNodes(ctx, deadline.C)
	if err == nil {
		err = r.awaitReady(ctx, deadline.C)
	}
	if err != nil {
		if !errors.Is(err, errInterrupted) {
			r.stderr.printf("demo: %s\n", oneLine(err))
		}
		return 1
	}
	r.stdout.printf("ready %d nodes\n", len(r.children))

	ok, err := r.check(ctx)
	if errors.Is(err, errInterrupted) {
		return 1
	}
	if ok {
		r.stdout.printf("check ok\n")
	} else {
		r.stdout.printf("check failed\n")
	}
	if r.opts.check {
		if ok {
			return 0
		}
		return 1
	}

	writeInstructions(r.stdout, r.nodeLines(), r.secret)
	if err := r.serve(ctx); err != nil {
		r.stderr.printf("demo: %s\n", oneLine(err))
		return 1
	}
	return 0
}
