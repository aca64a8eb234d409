package metrics_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

// A node of one that serves HTTPS with its sessions in the cluster, and
// its metrics on /metrics from a registry of its own. A client connects
// twice; the second handshake resumes the first one's session.
func Example() {
	cfg := cluster.LocalConfig()
	cfg.Name, cfg.Secret = "a", cluster.NewSecret()
	node, err := cluster.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	st, err := store.New(node, store.Config{Addr: "127.0.0.1:0", TLS: node.PeerTLS()})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	cache, err := tlsadapter.NewCache(st, tlsadapter.CacheConfig{})
	if err != nil {
		log.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.New(metrics.Options{Cluster: node, Store: st, Adapter: cache}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = cache.TLSConfig(nil)
	srv.StartTLS()
	defer srv.Close()

	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	tr.TLSClientConfig.MinVersion = tls.VersionTLS13
	tr.DisableKeepAlives = true // a handshake per request
	client := &http.Client{Transport: tr}
	for range 2 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // a TLS 1.3 ticket arrives as the client reads
		resp.Body.Close()
	}

	// The scrape is a handshake too: a full one, as its client has no session.
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, `sessionmesh_handshakes_total{`) && strings.Contains(line, "TLS1.3") {
			fmt.Println(line)
		}
	}
	// Output:
	// sessionmesh_handshakes_total{result="full",version="TLS1.3"} 2
	// sessionmesh_handshakes_total{result="resumed",version="TLS1.3"} 1
}
