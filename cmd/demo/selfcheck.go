package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/sessionmesh/sessionmesh/probe"
)

// checkServerName is the server name (SNI) of every self-check connection.
// A node resumes a session only for the name it was made for, so every node
// is asked for the same name; the certificate is valid for it.
const checkServerName = "localhost"

// checkTimeout bounds each connection of the self-check.
const checkTimeout = 10 * time.Second

// target is a node the self-check connects to.
type target struct {
	name string
	addr string // HTTPS host:port
}

// selfCheck offers a session made on each node to each other node, in TLS
// 1.2 and TLS 1.3 (package probe), prints a check line for each to out, and
// reports whether every one was resumed. Connection errors go to errOut.
func selfCheck(ctx context.Context, targets []target, roots *x509.CertPool, out, errOut io.Writer) bool {
	ok := true
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := probe.Config{ServerName: checkServerName, RootCAs: roots, Version: version, Timeout: checkTimeout}
		for _, from := range targets {
			for _, to := range targets {
				if from == to {
					continue
				}
				r := probe.Pair(ctx, from.addr, to.addr, cfg)
				if r.Err != nil {
					fmt.Fprintf(errOut, "demo: check %s -> %s (%s): %s\n", from.name, to.name, versionName(version), oneLine(r.Err))
				}
				ok = ok && r.Resumed && r.Err == nil
				fmt.Fprintf(out, "check %s -> %s: %s\n", from.name, to.name, r)
			}
		}
	}
	return ok
}
