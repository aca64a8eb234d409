// Package testmembers runs sessionmesh members inside a test process, as an
// embedder runs them: each started with sessionmesh.Start, each serving an
// HTTPS server of the test's own, all on loopback. Members crash (Kill),
// come back under their names (Restart) and join, so that tests of what is
// built on the cluster (the web session stores) can put it through what a
// deployment goes through.
package testmembers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// Cluster is a set of members sharing one secret, each with an HTTPS server.
type Cluster struct {
	t       testing.TB
	secret  []byte
	cert    tls.Certificate
	roots   *x509.CertPool
	handler func(*sessionmesh.Member) http.Handler
	config  func(*sessionmesh.Config)

	// Members and Servers are indexed alike; a killed member's entries are
	// nil until it restarts.
	Members []*sessionmesh.Member
	Servers []*httptest.Server
}

// Start starts n members, each serving handler(member) over HTTPS, and
// waits until every one has all n on its ring. config, if not nil, adjusts
// each member's Config (sessionmesh.LocalConfig with the secret and joins
// filled in). Everything stops when the test ends.
func Start(t testing.TB, n int, handler func(*sessionmesh.Member) http.Handler, config func(*sessionmesh.Config)) *Cluster {
	t.Helper()
	cert, roots, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, secret: sessionmesh.NewSecret(), cert: cert, roots: roots, handler: handler, config: config}
	for range n {
		c.Add()
	}
	c.WaitRing()
	return c
}

// Add starts one more member, which joins the others, and returns its index.
func (c *Cluster) Add() int {
	c.Members = append(c.Members, nil)
	c.Servers = append(c.Servers, nil)
	i := len(c.Members) - 1
	c.start(i, "")
	return i
}

func (c *Cluster) start(i int, name string) {
	c.t.Helper()
	cfg := sessionmesh.LocalConfig()
	cfg.Secret, cfg.Name = c.secret, name
	for _, m := range c.Members {
		if m != nil {
			cfg.Join = append(cfg.Join, m.GossipAddr())
		}
	}
	if c.config != nil {
		c.config(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := sessionmesh.Start(ctx, cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(c.handler(m))
	srv.TLS = m.TLSConfig(&tls.Config{Certificates: []tls.Certificate{c.cert}})
	srv.StartTLS()
	c.t.Cleanup(func() {
		srv.Close()
		m.Close()
	})
	c.Members[i], c.Servers[i] = m, srv
}

// Kill stops member i at once, as a crash would: its sessions are not
// handed over, and the others notice only when failure detection does.
func (c *Cluster) Kill(i int) {
	c.Servers[i].Close()
	c.Members[i].Close()
	c.Members[i], c.Servers[i] = nil, nil
}

// Restart starts member i again under its old name, empty, as a process
// that restarted after a crash: it waits until the others have declared
// the old one dead.
func (c *Cluster) Restart(i int, name string) {
	c.start(i, name)
	c.WaitRing()
}

// Live returns the indexes of the running members.
func (c *Cluster) Live() []int {
	var out []int
	for i, m := range c.Members {
		if m != nil {
			out = append(out, i)
		}
	}
	return out
}

// WaitRing waits until every running member has exactly the running
// members on its ring (a crash noticed, a join seen).
func (c *Cluster) WaitRing() {
	c.t.Helper()
	want := len(c.Live())
	deadline := time.Now().Add(30 * time.Second)
	for _, i := range c.Live() {
		for c.Members[i].Store().Stats().RingNodes != want {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s: %d members on its ring, want %d", c.Members[i].Name(), c.Members[i].Store().Stats().RingNodes, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Browser returns an HTTP client that trusts the servers and keeps cookies
// across all of them, as a browser does across the ports of one host.
func (c *Cluster) Browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return &http.Client{
		Jar:       jar,
		Timeout:   15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.roots}},
	}
}
