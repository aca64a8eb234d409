package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/resp"
)

// The environment variables that carry the sidecar's secrets.
const (
	envSecret      = "SESSIONMESH_SECRET"      // the cluster secret (sessionmesh.ParseSecret)
	envRequirePass = "SESSIONMESH_REQUIREPASS" // the Redis password
)

// options are the sidecar's flags.
type options struct {
	name, gossip, data, resp, join string
	joinTimeout                    time.Duration
	passFile                       string
	defaultTTL                     time.Duration
	maxClients                     int
	idleTimeout                    time.Duration
	rotation                       time.Duration
	timing                         string
	verbose                        bool
}

const sidecarSynopsis = `
usage: sessionmesh sidecar [-join ADDR] [flags]

Runs a sessionmesh member that serves the Redis protocol on -resp, for a server
next to it that is not written in Go. The cluster secret comes from
SESSIONMESH_SECRET; the Redis password, if any, from SESSIONMESH_REQUIREPASS or
-requirepass-file. Once it serves it prints:

  sidecar <name> pid=<pid> resp=<host:port> gossip=<host:port> data=<host:port>
`

func parseSidecarFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sessionmesh sidecar", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), strings.TrimSpace(sidecarSynopsis))
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	fs.StringVar(&o.name, "name", "", "this member's name, unique in the cluster (default: the host name and the gossip port)")
	fs.StringVar(&o.gossip, "gossip", ":7946", "gossip address, TCP and UDP (port 0: a free port)")
	fs.StringVar(&o.data, "data", ":7947", "peer data channel address (port 0: a free port)")
	fs.StringVar(&o.resp, "resp", "127.0.0.1:6380", "Redis protocol address (port 0: a free port); not loopback only with a password")
	fs.StringVar(&o.join, "join", "", "gossip address (host:port) of any member of the cluster to join, several separated by commas; without it, a new cluster starts")
	fs.DurationVar(&o.joinTimeout, "join-timeout", time.Minute, "how long to keep trying to reach -join before giving up")
	fs.StringVar(&o.passFile, "requirepass-file", "", "file whose first line is the Redis password (instead of SESSIONMESH_REQUIREPASS); mode 600, as others may not read it")
	fs.DurationVar(&o.defaultTTL, "default-ttl", 24*time.Hour, "how long a value set without an expiry lives (the cluster keeps nothing for ever)")
	fs.IntVar(&o.maxClients, "maxclients", 1024, "most Redis connections at once")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 5*time.Minute, "close a Redis connection idle that long, as Redis's timeout (0: never)")
	fs.DurationVar(&o.rotation, "ticket-rotation", time.Hour, "how often the cluster's ticket key rotates (the same on every member)")
	fs.StringVar(&o.timing, "timing", "lan", "failure detection and gossip: lan (a crash noticed in about 6 s) or local (members on one host)")
	fs.BoolVar(&o.verbose, "v", false, "log debug detail to standard error (default: warnings and errors only)")
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return o, err
	}
	if err != nil {
		return o, secretFlag(err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (-h lists the flags)", fs.Arg(0))
	}
	if strings.ContainsAny(o.name, " \t\r\n=") {
		return o, fmt.Errorf("-name %q: want a name without spaces or '='", o.name)
	}
	for _, a := range []struct{ flag, addr string }{{"-gossip", o.gossip}, {"-data", o.data}, {"-resp", o.resp}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return o, fmt.Errorf("%s %q: want host:port", a.flag, a.addr)
		}
	}
	for _, j := range joinList(o.join) {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return o, fmt.Errorf("-join %q: want host:port", j)
		}
	}
	switch {
	case o.joinTimeout <= 0:
		return o, fmt.Errorf("-join-timeout %v: must be positive", o.joinTimeout)
	case o.defaultTTL < time.Second:
		return o, fmt.Errorf("-default-ttl %v: must be at least 1s", o.defaultTTL)
	case o.idleTimeout < 0:
		return o, fmt.Errorf("-idle-timeout %v: must be 0 (never) or positive", o.idleTimeout)
	case o.maxClients < 1:
		return o, fmt.Errorf("-maxclients %d: must be at least 1", o.maxClients)
	case o.rotation < 4*time.Second:
		return o, fmt.Errorf("-ticket-rotation %v: must be at least 4s", o.rotation)
	case o.timing != "lan" && o.timing != "local":
		return o, fmt.Errorf("-timing %q: want lan or local", o.timing)
	}
	return o, nil
}

// secretFlag explains a parse error about a flag that would carry a
// secret: those come from the environment or a file, never a flag, since
// flags show in ps.
func secretFlag(err error) error {
	name, _ := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	switch strings.TrimLeft(name, "-") {
	case "requirepass", "pass", "password":
		return fmt.Errorf("%s: the password comes from %s or -requirepass-file, never a flag (flags show in ps)", name, envRequirePass)
	case "secret":
		return fmt.Errorf("%s: the cluster secret comes from %s, never a flag (flags show in ps)", name, envSecret)
	}
	return fmt.Errorf("%v (-h lists the flags)", err)
}

func joinList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// password reads the Redis password from SESSIONMESH_REQUIREPASS or the
// file, never both; "" means none.
func password(o options, getenv func(string) string) (string, error) {
	env := getenv(envRequirePass)
	if o.passFile == "" {
		return env, nil
	}
	if env != "" {
		return "", fmt.Errorf("set %s or -requirepass-file, not both", envRequirePass)
	}
	f, err := os.Open(o.passFile)
	if err != nil {
		return "", fmt.Errorf("-requirepass-file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("-requirepass-file: %w", err)
	}
	// As ssh refuses a private key others may read: the password guards the
	// ticket key and every session state.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("-requirepass-file %s: other users may read it (mode %04o): chmod 600 %s", o.passFile, perm, o.passFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("-requirepass-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("-requirepass-file %s: the first line is empty: write the password there", o.passFile)
	}
	return line, nil
}

// runSidecar is the sidecar command: it serves until SIGINT or SIGTERM.
func runSidecar(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "sessionmesh sidecar: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		return code
	}
	o, err := parseSidecarFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(exitUsage, err)
	}
	if os.Getenv(envSecret) == "" {
		return fail(exitUsage, fmt.Errorf("%s is not set: every member of a cluster needs the same secret; make one with `head -c 32 /dev/urandom | base64`", envSecret))
	}
	secret, err := sessionmesh.ParseSecret(os.Getenv(envSecret))
	if err != nil {
		if !strings.Contains(err.Error(), "/dev/urandom") {
			err = fmt.Errorf("%w: make one with `head -c 32 /dev/urandom | base64`, the same on every member", err)
		}
		return fail(exitUsage, fmt.Errorf("%s: %w", envSecret, err))
	}
	pass, err := password(o, os.Getenv)
	if err != nil {
		return fail(exitUsage, err)
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// Caught until runSidecar returns, so that a second signal cannot cut
	// the graceful stop short; the stop is bounded instead.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The Redis port first: a sidecar that cannot serve must not join the
	// cluster, only to leave it again (two ring changes, and sessions moved
	// twice, for nothing).
	ln, err := net.Listen("tcp", o.resp)
	if err != nil {
		return fail(1, fmt.Errorf("-resp: %w", err))
	}
	defer ln.Close() // until the Redis server owns it; closing twice is harmless
	if pass == "" && !resp.IsLoopback(ln.Addr()) {
		return fail(1, fmt.Errorf("-resp %s is not a loopback address, and no password is set: "+
			"listen on 127.0.0.1, or set a password (%s or -requirepass-file)", o.resp, envRequirePass))
	}

	cfg := sessionmesh.Config{
		Secret: secret, Name: o.name, BindAddr: o.gossip, DataAddr: o.data,
		Join: joinList(o.join), JoinTimeout: o.joinTimeout, Logger: logger,
		ShareTicketKeys: true, TicketRotation: o.rotation,
	}
	if o.timing == "local" {
		cfg.Timing = cluster.LocalTiming()
	}
	m, err := sessionmesh.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return 0 // interrupted while starting: nothing to hand over
		}
		return fail(1, err)
	}
	idle := o.idleTimeout
	if idle == 0 {
		idle = -1 // never, in resp.Config
	}
	srv, err := resp.NewServer(ln, resp.Config{IdleTimeout: idle,
		Store: m.WebSessions(), TicketKeys: m.TicketKeys(), Password: pass,
		DefaultTTL: o.defaultTTL, MaxClients: o.maxClients, Logger: logger.With("node", m.Name()),
		Info: func() []resp.Section { return clusterInfo(m) },
	})
	if err != nil {
		m.Close()
		return fail(1, fmt.Errorf("-resp: %w", err))
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	fmt.Fprintf(stdout, "sidecar %s pid=%d resp=%s gossip=%s data=%s\n", m.Name(), os.Getpid(), srv.Addr(), m.GossipAddr(), m.DataAddr())

	code := 0
	select {
	case <-ctx.Done():
	case err := <-served:
		code = fail(1, fmt.Errorf("the Redis server stopped: %v", err))
	}
	srv.Close()
	// ctx is done: shut down with a context that is not, bounded.
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(shutdown); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	return code
}

// clusterInfo is INFO's "# Cluster" section: the cluster as this member sees it.
func clusterInfo(m *sessionmesh.Member) []resp.Section {
	members := m.Node().Members()
	names := make([]string, len(members))
	for i, mb := range members {
		names[i] = mb.Name
	}
	st := m.Store().Stats()
	hitRate := "-"
	if st.WebFinds > 0 {
		hitRate = strconv.FormatFloat(float64(st.WebFound)/float64(st.WebFinds), 'f', 4, 64)
	}
	fields := []resp.Field{
		{Key: "member_name", Value: m.Name()},
		{Key: "cluster_members", Value: strconv.Itoa(len(members))},
		{Key: "cluster_member_names", Value: strings.Join(names, ",")},
		{Key: "ring_members", Value: strconv.Itoa(st.RingNodes)},
		{Key: "values_held", Value: strconv.Itoa(st.WebSessions)},
		{Key: "values_bytes", Value: strconv.FormatInt(st.WebBytes, 10)},
		{Key: "values_max_bytes", Value: strconv.FormatInt(st.WebMaxBytes, 10)},
		{Key: "lookups", Value: strconv.FormatUint(st.WebFinds, 10)},
		{Key: "lookups_found", Value: strconv.FormatUint(st.WebFound, 10)},
		{Key: "hit_rate", Value: hitRate},
		{Key: "cluster_errors", Value: strconv.FormatUint(st.WebErrors, 10)},
	}
	if k := m.TicketKeys(); k != nil {
		for _, info := range k.Keys() {
			if info.State.String() == "active" {
				fields = append(fields, resp.Field{Key: "ticket_key_id", Value: fmt.Sprintf("%016x", info.ID)})
			}
		}
	}
	return []resp.Section{{Name: "Cluster", Fields: fields}}
}
