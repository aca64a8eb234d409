package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// checkServerName is the server name (SNI) of every self-check connection.
// Go's client session cache is keyed by server name, and a node resumes a
// session only for the name it was made for, so every node is asked for the
// same name; the certificate is valid for it.
const checkServerName = "localhost"

// checkTimeout bounds each request of the self-check.
const checkTimeout = 10 * time.Second

// target is a node the self-check connects to.
type target struct {
	name string
	addr string // HTTPS host:port
}

// selfCheck offers a session made on each node to each other node, in TLS
// 1.2 and TLS 1.3, prints a check line for each to out, and reports whether
// every one was resumed. Connection errors go to errOut.
func selfCheck(ctx context.Context, targets []target, roots *x509.CertPool, out, errOut io.Writer) bool {
	ok := true
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, from := range targets {
			for _, to := range targets {
				if from == to {
					continue
				}
				result := "New"
				resumed, err := crossResume(ctx, from, to, version, roots)
				switch {
				case err != nil:
					result = "Failed"
					fmt.Fprintf(errOut, "demo: check %s -> %s (%s): %s\n", from.name, to.name, versionName(version), oneLine(err))
				case resumed:
					result = "Reused"
				}
				ok = ok && resumed && err == nil
				fmt.Fprintf(out, "check %s -> %s: %s %s\n", from.name, to.name, result, versionName(version))
			}
		}
	}
	return ok
}

// crossResume makes a session on from, offers it to to, and reports whether
// to resumed it. The client is fresh, like a new browser, and limited to one
// TLS version.
func crossResume(ctx context.Context, from, to target, version uint16, roots *x509.CertPool) (bool, error) {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			RootCAs:            roots,
			ServerName:         checkServerName,
			MinVersion:         version,
			MaxVersion:         version,
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
		},
		// A new connection, so a new handshake, for every request.
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: checkTimeout}
	if _, err := get(ctx, client, from); err != nil {
		return false, err
	}
	return get(ctx, client, to)
}

// get asks t for / and reports whether the connection resumed a session. It
// reads the whole answer: a TLS 1.3 client takes its ticket only when it
// reads, and the answer must name t.
func get(ctx context.Context, client *http.Client, t target) (resumed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+t.addr+"/", nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return false, fmt.Errorf("GET https://%s/: %w", t.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET https://%s/: %s", t.addr, resp.Status)
	}
	if !strings.HasPrefix(string(body), "node: "+t.name+"\n") {
		return false, fmt.Errorf("GET https://%s/: answered by another node: %q", t.addr, body)
	}
	return resp.TLS != nil && resp.TLS.DidResume, nil
}
