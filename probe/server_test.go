package probe_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
)

// testCert is a certificate for localhost and 127.0.0.1, and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, pool, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}

// ipOnlyCert is a self-signed certificate valid for 127.0.0.1 and no other
// name (selfsigned's are valid for localhost too); it adds itself to pool.
func ipOnlyCert(t *testing.T, pool *x509.CertPool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// ticketKey is a fresh session ticket key, to share between servers.
func ticketKey(t *testing.T) [32]byte {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return k
}

// serverTLS is a server config with cert that encrypts tickets with key,
// or with its own automatic keys if key is nil, as plain servers do.
func serverTLS(cert tls.Certificate, key *[32]byte) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if key != nil {
		cfg.SetSessionTicketKeys([][32]byte{*key})
	}
	return cfg
}

// httpsServer starts an HTTPS server with cfg on 127.0.0.1 and returns its
// address. Its handshake errors, which some tests cause, are not logged.
func httpsServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = cfg // StartTLS clones it, ticket keys included
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// holdServer starts a TLS server that is not HTTP: it handshakes, reports
// the handshake on the returned channel, and then keeps the connection open,
// ignoring what the client sends, until the client closes it.
func holdServer(t *testing.T, cfg *tls.Config) (addr string, handshakes <-chan struct{}) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 16)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex // guards conns and closed
		conns  []net.Conn
		closed bool
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			if closed { // accepted as the cleanup ran
				c.Close()
			}
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() != nil {
					return
				}
				select {
				case done <- struct{}{}:
				default:
				}
				io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), done
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
