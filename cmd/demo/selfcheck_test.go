package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// TestSelfCheck runs the self-check against in-process servers whose
// resumption is known: servers sharing a ticket key resume each other's
// sessions, servers with their own keys do not, and a server that is not
// there fails.
func TestSelfCheck(t *testing.T) {
	cert, roots, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	shared, own := newTicketKey(), newTicketKey()
	a := serveHandler(t, "a", cert, shared)
	b := serveHandler(t, "b", cert, shared)
	c := serveHandler(t, "c", cert, own)
	gone := target{name: "gone", addr: closedAddr(t)}

	tests := []struct {
		name    string
		targets []target
		ok      bool
		lines   []string
		errors  int // lines on errOut
	}{
		{"shared key", []target{a, b}, true, []string{
			"check a -> b: Reused TLSv1.2",
			"check b -> a: Reused TLSv1.2",
			"check a -> b: Reused TLSv1.3",
			"check b -> a: Reused TLSv1.3",
		}, 0},
		{"own keys", []target{a, c}, false, []string{
			"check a -> c: New TLSv1.2",
			"check c -> a: New TLSv1.2",
			"check a -> c: New TLSv1.3",
			"check c -> a: New TLSv1.3",
		}, 0},
		{"a node is gone", []target{a, gone}, false, []string{
			"check a -> gone: Failed TLSv1.2",
			"check gone -> a: Failed TLSv1.2",
			"check a -> gone: Failed TLSv1.3",
			"check gone -> a: Failed TLSv1.3",
		}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			ok := selfCheck(context.Background(), tt.targets, roots, &out, &errOut)
			if ok != tt.ok {
				t.Errorf("selfCheck = %v, want %v", ok, tt.ok)
			}
			if got, want := out.String(), strings.Join(tt.lines, "\n")+"\n"; got != want {
				t.Errorf("output:\n%s\nwant:\n%s", got, want)
			}
			if n := strings.Count(errOut.String(), "\n"); n != tt.errors {
				t.Errorf("%d error lines, want %d:\n%s", n, tt.errors, errOut.String())
			}
		})
	}
}

func newTicketKey() [32]byte {
	var k [32]byte
	rand.Read(k[:])
	return k
}

// serveHandler serves node name's handler over TLS with the given session
// ticket key until the test ends.
func serveHandler(t *testing.T, name string, cert tls.Certificate, key [32]byte) target {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	cfg.SetSessionTicketKeys([][32]byte{key})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: newHandler(name, http.NotFoundHandler(), http.NotFoundHandler())}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return target{name: name, addr: ln.Addr().String()}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
