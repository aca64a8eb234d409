package tlsadapter_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// server is one HTTPS server of a cluster.
type server struct {
	node  *cluster.Node
	store *store.Store
	https *httptest.Server
}

func (s *server) Close() { s.https.Close(); s.store.Close(); s.node.Close() }

func startServer(name string, secret []byte) *server {
	cfg := cluster.LocalConfig()
	cfg.Name, cfg.Secret = name, secret
	node, err := cluster.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	st, err := store.New(node, store.Config{Addr: "127.0.0.1:0", TLS: node.PeerTLS()})
	if err != nil {
		log.Fatal(err)
	}
	cache, err := tlsadapter.NewCache(st, tlsadapter.CacheConfig{})
	if err != nil {
		log.Fatal(err)
	}
	https := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s resumed=%v", name, r.TLS.DidResume)
	}))
	https.TLS = cache.TLSConfig(nil)
	https.StartTLS()
	return &server{node, st, https}
}

// Two HTTPS servers in one cluster: a client's session from the first
// resumes on the second.
func Example() {
	secret := cluster.NewSecret()
	a, b := startServer("a", secret), startServer("b", secret)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.node.Join(ctx, a.node.Addr()); err != nil {
		log.Fatal(err)
	}
	for a.store.Stats().RingNodes < 2 || b.store.Stats().RingNodes < 2 {
		time.Sleep(10 * time.Millisecond) // until each has the other on its ring
	}

	// One client with one session cache, and the same server name for both
	// servers, as behind a load balancer.
	tr := a.https.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	tr.TLSClientConfig.ServerName = "example.com"
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr}
	for _, url := range []string{a.https.URL, b.https.URL} {
		resp, err := client.Get(url)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// a resumed=false
	// b resumed=true
}
