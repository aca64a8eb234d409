package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store"
)

// Bounds on a node's graceful stop.
const (
	shutdownTimeout = 5 * time.Second // for HTTPS requests in flight
	leaveTimeout    = time.Second     // for the news of our departure to spread
	handoffTimeout  = 5 * time.Second // for our sessions to reach their new owners
)

// node is one running node: cluster member, session store, HTTPS server.
type node struct {
	name    string
	ln      net.Listener
	cluster *cluster.Node
	store   *store.Store
	sharing sharing
	srv     *http.Server
	logger  *slog.Logger
	status  *statusSource // what /status and /metrics report on
	sampler *sampler      // samples the counters for /status's last minute

	done     chan struct{} // closed when the HTTPS server has stopped
	serveErr error         // why it stopped; read after done

	silenceLog func() // called as membership closes (see silenceable)
}

// startNode assembles a node in the library's order (cluster, store, session
// sharing, TLS server), joins opts.join if set, and returns it serving. It
// listens for HTTPS first only so that a port in use fails before anything
// else starts. On error, whatever had started is stopped again.
func startNode(ctx context.Context, opts nodeOptions, secret []byte, cert tls.Certificate, logger *slog.Logger, silenceLog func()) (n *node, err error) {
	n = &node{name: opts.name, silenceLog: silenceLog, logger: logger}
	started := time.Now()
	defer func() {
		if err != nil {
			n.stop()
		}
	}()
	if n.ln, err = net.Listen("tcp", opts.addr); err != nil {
		return n, listenError("-addr", opts.addr, err)
	}

	cc := cluster.LocalConfig()
	cc.Name, cc.Secret, cc.Logger = opts.name, secret, logger
	cc.BindAddr = opts.gossip
	if n.cluster, err = cluster.New(cc); err != nil {
		return n, fmt.Errorf("-gossip %s: %w", opts.gossip, err)
	}
	sc := store.Config{Addr: opts.data, TLS: n.cluster.PeerTLS(), Logger: logger}
	if n.store, err = store.New(n.cluster, sc); err != nil {
		return n, fmt.Errorf("-data %s: %w", opts.data, err)
	}
	base := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if n.sharing, err = opts.mode.resumption.share(base, sessionDeps{cluster: n.cluster, store: n.store, opts: opts.mode, logger: logger}); err != nil {
		return n, err
	}

	n.status = &statusSource{
		name: opts.name, mode: opts.mode.resumption, started: started,
		cluster: n.cluster, store: n.store, adapter: n.sharing.adapter, keys: n.sharing.keys,
		history: new(history), now: time.Now,
	}
	n.sampler = startSampler(n.status.history, n.status.sample)

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	n.srv = &http.Server{
		Handler:           newHandler(opts.name, newStatusHandler(n.status, logger), metricsHandler(n.status, logger)),
		TLSConfig:         n.sharing.tls,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		// Handshakes that fail (a browser refusing the self-signed
		// certificate, openssl hanging up) are routine here.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	n.done = make(chan struct{})
	go func() {
		defer close(n.done)
		n.serveErr = n.srv.ServeTLS(n.ln, "", "")
	}()

	if opts.join != "" {
		if err := join(ctx, n.cluster, opts.join, opts.joinTimeout); err != nil {
			return n, err
		}
	}
	return n, nil
}

// join joins the cluster at addr, trying for at most timeout.
func join(ctx context.Context, c *cluster.Node, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// memberlist logs a warning on every failed name lookup, and Join
	// retries; one lookup first turns a typo into one clear error.
	host, _, _ := net.SplitHostPort(addr)
	if net.ParseIP(host) == nil {
		if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
			return fmt.Errorf("-join %s: cannot resolve %s: %w", addr, host, err)
		}
	}
	if err := c.Join(ctx, addr); err != nil {
		return fmt.Errorf("-join %s: no cluster answered within %v: %w", addr, timeout, err)
	}
	return nil
}

// line returns the node line announcing n.
func (n *node) line() nodeLine {
	return nodeLine{
		name:   n.name,
		pid:    os.Getpid(),
		tls:    n.ln.Addr().String(),
		gossip: n.cluster.Addr(),
		data:   n.store.Addr(),
	}
}

// stop stops what has started, in the graceful order of docs/operations.md:
// the HTTPS server (finishing requests in flight) and the sampler behind its
// status page; the store leaves the ring and hands its sessions over; the
// ticket keys stop; membership tells the others we are leaving; then the
// store and membership close.
func (n *node) stop() {
	switch {
	case n.srv != nil:
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err := n.srv.Shutdown(ctx); err != nil {
			n.srv.Close()
		}
		cancel()
		<-n.done
	case n.ln != nil:
		n.ln.Close()
	}
	if n.sampler != nil {
		n.sampler.stop()
	}
	if n.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), handoffTimeout)
		if err := n.store.Leave(ctx); err != nil {
			n.logger.Warn("not every session was handed over", "err", err)
		}
		cancel()
	}
	if n.sharing.keys != nil {
		n.sharing.keys.Close()
	}
	if n.cluster != nil {
		// If the news does not spread in time, the others notice the
		// silence instead: a few seconds later, with the same outcome.
		ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		n.cluster.Leave(ctx)
		cancel()
	}
	if n.store != nil {
		n.store.Close()
	}
	if n.cluster != nil {
		n.silenceLog()
		n.cluster.Close()
	}
}

// listenError describes a failed listen on addr, given by flag, in a few words.
func listenError(flag, addr string, err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return fmt.Errorf("%s %s: cannot listen: %v", flag, addr, se.Err)
	}
	return fmt.Errorf("%s %s: %w", flag, addr, err)
}
