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

// Two HTTPS servers in one cluster: a client's session from the first
// resumes on the second.
func Example() {
	secret := cluster.NewSecret()
	var first *cluster.Node
	serve := func(name string) (*httptest.Server, func()) {
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
		if first == nil {
			first = node
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := node.Join(ctx, first.Addr()); err != nil {
				log.Fatal(err)
			}
			for st.Stats().RingNodes < 2 {
				time.Sleep(10 * time.Millisecond) // until this node sees the other's store
			}
		}
		cache, err := tlsadapter.New(st, tlsadapter.Config{})
		if err != nil {
			log.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s resumed=%v", name, r.TLS.DidResume)
		}))
		srv.TLS = cache.TLSConfig(nil)
		srv.StartTLS()
		return srv, func() { srv.Close(); st.Close(); node.Close() }
	}
	a, stopA := serve("a")
	defer stopA()
	b, stopB := serve("b")
	defer stopB()

	// One client, one session cache; the same server name for both servers,
	// as behind a load balancer.
	tr := a.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	tr.TLSClientConfig.ServerName = "example.com"
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr}
	for _, url := range []string{a.URL, b.URL} {
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
