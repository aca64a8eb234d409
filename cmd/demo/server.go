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

	"golang.org/x/net/netutil"

	"github.com/sessionmesh/sessionmesh"
)

// maxConns bounds a node's HTTPS connections.
const maxConns = 1000

// Bounds on a node's graceful stop.
const (
	shutdownTimeout = 5 * time.Second // for HTTPS requests in flight
	leaveTimeout    = 5 * time.Second // for the sessions to reach their new holders, and the goodbye
)

// node is one running node: a sessionmesh member and an HTTPS server on it.
type node struct {
	name   string
	mode   resumption
	ln     net.Listener
	member *sessionmesh.Member
	srv    *http.Server
	logger *slog.Logger

	done     chan struct{} // closed when the HTTPS server has stopped
	serveErr error         // why it stopped; read after done
}

// startNode starts a member as an embedder would (sessionmesh.Start) and an
// HTTPS server on it, and returns them serving. It listens for HTTPS first
// only so that a port in use fails before anything else starts. On error,
// whatever had started is stopped again.
func startNode(ctx context.Context, opts nodeOptions, secret []byte, cert tls.Certificate, logger *slog.Logger) (n *node, err error) {
	n = &node{name: opts.name, mode: opts.mode.resumption, logger: logger}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.ln, err = net.Listen("tcp", opts.addr); err != nil {
		return n, listenError("-addr", opts.addr, err)
	}
	if opts.join != "" {
		if err := resolvable(ctx, opts.join); err != nil {
			return n, err
		}
	}
	cfg := sessionmesh.LocalConfig()
	cfg.Name, cfg.Secret, cfg.Logger = opts.name, secret, logger
	cfg.BindAddr, cfg.DataAddr = opts.gossip, opts.data
	cfg.Mode = opts.mode.resumption.mode()
	cfg.TicketRotation = opts.mode.rotation
	if opts.join != "" {
		cfg.Join, cfg.JoinTimeout = []string{opts.join}, opts.joinTimeout
	}
	if n.member, err = sessionmesh.Start(ctx, cfg); err != nil {
		if opts.join != "" && errors.Is(err, context.DeadlineExceeded) {
			return n, fmt.Errorf("-join %s: no cluster answered within %v: %w", opts.join, opts.joinTimeout, err)
		}
		return n, err
	}

	base := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// Off mode turns tickets off, as SSL_OP_NO_TICKET does: every handshake
	// is a full one. The member still counts them, for comparison.
	base.SessionTicketsDisabled = opts.mode.resumption == offMode
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	n.srv = &http.Server{
		Handler:   newHandler(opts.name, n.member.Handler(), newVisits(opts.name, n.member.WebSessions(), logger)),
		TLSConfig: n.member.TLSConfig(base),
		Protocols: &protocols,
		// What a slow or idle client may hold is bounded: 3,000 idle
		// keep-alive connections held 95 MB, 20,000 request bodies sent a
		// byte every 10 s 1.2 GB, and HTTP/2 streams whose client never
		// reads (a zero window) 900 MB, until these were set.
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    64 << 10, // 900 KB cookies from 300 connections held 500 MB at the default 1 MB
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 32},
		// Handshakes that fail (a browser refusing the self-signed
		// certificate, openssl hanging up) are routine here.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	n.done = make(chan struct{})
	go func() {
		defer close(n.done)
		// At most maxConns connections at once: beyond, new ones wait in
		// the kernel's backlog instead of costing memory and descriptors;
		// and at most maxConnsPerHost of them from one address.
		n.serveErr = n.srv.ServeTLS(limitPerHost(netutil.LimitListener(n.ln, maxConns), maxConnsPerHost), "", "")
	}()
	return n, nil
}

// resolvable returns an error at once if addr's host does not resolve:
// joining retries until its timeout, and a typo should not cost that.
func resolvable(ctx context.Context, addr string) error {
	host, _, _ := net.SplitHostPort(addr)
	if net.ParseIP(host) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		return fmt.Errorf("-join %s: cannot resolve %s: %w", addr, host, err)
	}
	return nil
}

// line returns the node line announcing n. Ticket mode has no data port.
func (n *node) line() nodeLine {
	return nodeLine{
		name:   n.name,
		pid:    os.Getpid(),
		tls:    n.ln.Addr().String(),
		gossip: n.member.GossipAddr(),
		data:   n.member.DataAddr(),
	}
}

// stopHTTPS stops the HTTPS server, letting requests in flight finish.
func (n *node) stopHTTPS() {
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
}

// shutdown stops the node gracefully: HTTPS first, then the member hands its
// sessions to the others and leaves. For a node stopped on its own (SIGTERM).
func (n *node) shutdown() {
	n.stopHTTPS()
	if n.member == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	if err := n.member.Shutdown(ctx); err != nil {
		n.logger.Warn("not every session was handed over", "err", err)
	}
}

// close stops the node at once, handing nothing over: for when the whole
// cluster stops, and there is nobody to hand sessions to.
func (n *node) close() {
	n.stopHTTPS()
	if n.member != nil {
		n.member.Close()
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
