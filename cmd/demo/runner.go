package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

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
	opts    runnerOptions
	exe     string
	env     []string      // the nodes' environment, secrets included
	dir     string        // private (0700), removed at the end: the secret's socket, openssl's session
	secrets *secretServer // gives the secret to a node added by hand; nil if SESSIONMESH_SECRET gave it
	addEnv  string        // what the command that adds a node puts before it, to give it the secret
	roots   *x509.CertPool
	stdout  *syncWriter
	stderr  *syncWriter

	phase    phase
	children []*child
	events   chan event
	wg       sync.WaitGroup // one goroutine per child
}

// newRunner makes the cluster's certificate and, unless SESSIONMESH_SECRET
// gives one, its secret, and the private directory.
//
// The secret never goes to standard output: the nodes get it in their
// environment, and a node added by hand reads it from a file only this user
// can read (or from SESSIONMESH_SECRET, if the runner got it there).
func newRunner(opts runnerOptions, stdout, stderr io.Writer) (r *runner, err error) {
	r = &runner{
		opts:   opts,
		stdout: &syncWriter{w: stdout},
		stderr: &syncWriter{w: stderr},
		events: make(chan event),
	}
	if r.exe, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("cannot find my own executable to start nodes: %w", err)
	}
	secret, fromEnv, err := runnerSecret(os.Getenv)
	if err != nil {
		return nil, err
	}
	if r.dir, err = os.MkdirTemp("", "sessionmesh-demo-"); err != nil { // mode 0700
		return nil, err
	}
	defer func() {
		if err != nil {
			r.cleanup()
		}
	}()
	if !fromEnv { // else the person's shell has it already
		if r.secrets, err = serveSecret(r.dir, secret); err != nil {
			return nil, err
		}
		r.addEnv = envSecretSock + "=" + r.secrets.path + " "
	}
	var cert tls.Certificate
	if cert, r.roots, err = selfsigned.New(); err != nil {
		return nil, err
	}
	if r.env, err = nodeEnv(os.Environ(), secret, cert); err != nil {
		return nil, err
	}
	return r, nil
}

// cleanup stops giving out the secret and removes the private directory.
func (r *runner) cleanup() {
	if r.secrets != nil {
		r.secrets.close()
	}
	os.RemoveAll(r.dir)
}

var errInterrupted = errors.New("interrupted")

// run runs the demo until ctx ends (or, with -check, until the check is
// done) and returns the exit status. Every node has stopped when it returns.
func (r *runner) run(ctx context.Context) int {
	defer r.cleanup()
	defer r.stop()
	r.stdout.printf("demo pid=%d\n", os.Getpid())
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

	cookieJar := filepath.Join(r.dir, "cookies.txt")
	if r.opts.mode.resumption == ticketMode {
		cookieJar = "" // no store, no web sessions
	}
	writeInstructions(r.stdout, r.nodeLines(), r.addEnv, filepath.Join(r.dir, "session.pem"), cookieJar)
	if err := r.serve(ctx); err != nil {
		r.stderr.printf("demo: %s\n", oneLine(err))
		return 1
	}
	return 0
}
