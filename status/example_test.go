package status_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/status"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// A member of a cluster of one, in cache mode, with its status page and
// metrics mounted under /debug/sessionmesh/ on the program's own mux. A
// script reads the page's facts as JSON.
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
	for st.Stats().RingNodes < 1 {
		time.Sleep(5 * time.Millisecond) // until the store has built its ring
	}
	cache, err := tlsadapter.NewCache(st, tlsadapter.CacheConfig{})
	if err != nil {
		log.Fatal(err)
	}

	s := status.New(status.Source{
		Name: node.Name(), Mode: "cache", Started: time.Now(),
		Cluster: node, Store: st, Adapter: cache,
	})
	defer s.Close() // deferred last, so it runs first: before the parts it reports on close

	mux := http.NewServeMux()
	mux.Handle("GET /debug/sessionmesh/{$}", s)
	mux.Handle("GET /debug/sessionmesh/metrics", s.Metrics())
	srv := httptest.NewServer(mux) // plain HTTP here; serve your TLS with cache.TLSConfig
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/debug/sessionmesh/?format=json")
	if err != nil {
		log.Fatal(err)
	}
	var r status.Report
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (%s): %d member(s), ring of %d, resumption rate %v\n",
		r.Node, r.Mode, len(r.Members), r.Ring.Nodes, r.LastMinute.ResumptionRate)

	resp, err = http.Get(srv.URL + "/debug/sessionmesh/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, `sessionmesh_cluster_members{state="alive"}`) {
			fmt.Println(line)
		}
	}
	// Output:
	// a (cache): 1 member(s), ring of 1, resumption rate <nil>
	// sessionmesh_cluster_members{state="alive"} 1
}
