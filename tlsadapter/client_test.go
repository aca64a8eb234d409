package tlsadapter_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// upstream runs a plain Go TLS server — its own ticket keys, no sessionmesh —
// that the cluster's members are clients of.
func upstream(t *testing.T) (addr string, roots *x509.CertPool) {
	t.Helper()
	cert, pool, err := selfsigned.New("upstream.example")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, "hi\n")
			})
		}
	})
	return ln.Addr().String(), pool
}

// TestClientCacheAcrossNodes: a session node-0's client made with an
// upstream server resumes from node-1's client, in both TLS versions.
func TestClientCacheAcrossNodes(t *testing.T) {
	c := testcluster.Start(t, 2, testcluster.Options{})
	addr, roots := upstream(t)
	for _, ver := range versions {
		var resumed []bool
		for _, nd := range c.Nodes {
			cache, err := tlsadapter.NewClientCache(nd.Store, tlsadapter.ClientCacheConfig{LookupTimeout: 5 * time.Second}) // a busy machine is not what this tests
			if err != nil {
				t.Fatal(err)
			}
			cfg := &tls.Config{
				RootCAs: roots, ServerName: "upstream.example",
				MinVersion: ver.v, MaxVersion: ver.v, ClientSessionCache: cache,
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(conn) // a TLS 1.3 ticket is taken on read
			resumed = append(resumed, conn.ConnectionState().DidResume)
			conn.Close()
		}
		if resumed[0] || !resumed[1] {
			t.Errorf("%s: resumed %v, want [false true]", ver.name, resumed)
		}
	}
}

// TestClientCacheDeleteAndScope: Put(nil) forgets a session, and a key never
// returns another key's session.
func TestClientCacheDeleteAndScope(t *testing.T) {
	c := testcluster.Start(t, 1, testcluster.Options{})
	cache, _ := tlsadapter.NewClientCache(c.Nodes[0].Store, tlsadapter.ClientCacheConfig{})
	cl := c.Client(tls.VersionTLS13, "a.example")
	cl.Connect(c.Nodes[0].Addr)
	cache.Put("a.example", cl.Session())
	if _, ok := cache.Get("a.example"); !ok {
		t.Fatal("stored session not found")
	}
	if _, ok := cache.Get("b.example"); ok {
		t.Error("another key's session returned")
	}
	cache.Put("a.example", nil)
	if _, ok := cache.Get("a.example"); ok {
		t.Error("deleted session still returned")
	}
}
