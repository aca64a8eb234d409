package status_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
	"github.com/sessionmesh/sessionmesh/status"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// modes are the two ways a cluster shares sessions, as the tests run them.
var modes = []string{"cache", "tickets"}

// member is a live cluster of three with the Status of its node 1, made
// before any handshake so that its last minute counts every one.
type member struct {
	c      *testcluster.Cluster
	node   *testcluster.Node
	status *status.Status
}

// startMember starts a cluster of three in mode ("cache" or "tickets") and
// the Status of node 1. In ticket mode the Status has no store, as a ticket
// server of one's own has none (testcluster runs one regardless).
func startMember(t *testing.T, mode string) member {
	t.Helper()
	var opts testcluster.Options
	if mode == "tickets" {
		opts.Tickets = &ticketkeys.Config{}
	}
	c := testcluster.Start(t, 3, opts)
	if mode == "tickets" {
		c.WaitTicketKeys()
	}
	nd := c.Nodes[1]
	src := status.Source{Name: nd.Name, Mode: mode, Started: time.Now(), Cluster: nd.Cluster}
	if mode == "tickets" {
		src.Adapter, src.Keys = nd.Tickets, nd.Keys
	} else {
		src.Adapter, src.Store = nd.Cache, nd.Store
	}
	st := status.New(src)
	t.Cleanup(func() { st.Close() }) // before the cluster stops: cleanups run last first
	return member{c: c, node: nd, status: st}
}

// traffic makes handshakes at m's node and returns how many resumed and
// how many were full, as the clients saw them: for each other node, a
// session made there and resumed here, in TLS 1.3 and 1.2; a session made
// here for another server name (a miss: server_name_mismatch); and a
// client with no session at all.
func (m member) traffic(t *testing.T) (resumed, full int) {
	t.Helper()
	count := func(cl *testcluster.Client) {
		t.Helper()
		r, err := cl.Connect(m.node.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if r {
			resumed++
		} else {
			full++
		}
	}
	for _, other := range m.c.Nodes {
		if other == m.node {
			continue
		}
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			cl := m.c.Client(v, "a.example")
			if _, err := cl.Connect(other.Addr); err != nil {
				t.Fatal(err)
			}
			count(cl)
		}
	}
	cl := m.c.Client(tls.VersionTLS13, "a.example")
	if _, err := cl.Connect(m.c.Nodes[0].Addr); err != nil {
		t.Fatal(err)
	}
	sess := cl.Session()
	cl.Config.ServerName = "b.example"
	cl.Offer(sess)
	count(cl)
	count(m.c.Client(tls.VersionTLS13, "a.example"))
	if resumed == 0 || full == 0 {
		t.Fatalf("%d resumed, %d full: want some of each, for a rate that shows something", resumed, full)
	}
	return resumed, full
}

// get fetches url with an optional Accept header and returns the body.
func get(t *testing.T, url, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return resp, string(b)
}

// serve mounts h under prefix on a test server and returns the page's URL.
func serve(t *testing.T, prefix string, h http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + prefix
}

// TestJSON: ?format=json and Accept: application/json answer the report;
// it counts the handshakes the clients made; ring, sessions, the peer
// latency and the store's counters are there in cache mode and absent (not
// zero) without a store.
func TestJSON(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			m := startMember(t, mode)
			resumed, full := m.traffic(t)
			url := serve(t, "/debug/sessionmesh/", m.status)

			for _, tt := range []struct{ query, accept string }{{"?format=json", ""}, {"", "application/json"}} {
				resp, body := get(t, url+tt.query, tt.accept)
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("%q, Accept %q: Content-Type %q", tt.query, tt.accept, ct)
				}
				var raw map[string]any
				if err := json.Unmarshal([]byte(body), &raw); err != nil {
					t.Fatalf("%v\n%s", err, body)
				}
				lm := raw["last_minute"].(map[string]any)
				counters := raw["counters"].(map[string]any)
				present := map[string]bool{
					"ring": raw["ring"] != nil, "sessions": raw["sessions"] != nil,
					"last_minute.peer_latency": lm["peer_latency"] != nil, "counters.store": counters["store"] != nil,
				}
				for field, there := range present {
					if want := mode == "cache"; there != want {
						t.Errorf("%s: present %v, want %v", field, there, want)
					}
				}
				if _, ok := raw["ticket_keys"]; ok != (mode == "tickets") {
					t.Errorf("ticket_keys present %v in %s mode", ok, mode)
				}

				var r status.Report
				if err := json.Unmarshal([]byte(body), &r); err != nil {
					t.Fatal(err)
				}
				if r.Node != m.node.Name || r.Mode != mode {
					t.Errorf("node %q, mode %q", r.Node, r.Mode)
				}
				var names []string
				for _, mb := range r.Members {
					names = append(names, mb.Name)
				}
				if want := []string{"node-0", "node-1", "node-2"}; !slices.Equal(names, want) {
					t.Errorf("members %v, want %v", names, want)
				}
				if r.LastMinute.Resumed != uint64(resumed) || r.LastMinute.Full != uint64(full) {
					t.Errorf("last minute: %d resumed, %d full; the clients saw %d, %d", r.LastMinute.Resumed, r.LastMinute.Full, resumed, full)
				}
				if r.LastMinute.Misses["server_name_mismatch"] != 1 {
					t.Errorf("misses %v, want 1 server_name_mismatch", r.LastMinute.Misses)
				}
				if mode == "cache" && r.Ring.Nodes != 3 {
					t.Errorf("ring of %d nodes, want 3", r.Ring.Nodes)
				}
			}

			// A browser's Accept header gets the page.
			resp, body := get(t, url, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "<title>node-1 · sessionmesh</title>") {
				t.Errorf("Content-Type %q, page:\n%s", ct, body)
			}
		})
	}
}

// TestMethods: the Status answers GET and HEAD, nothing else.
func TestMethods(t *testing.T) {
	m := startMember(t, "cache")
	url := serve(t, "/status", m.status)
	for _, tt := range []struct {
		method string
		want   int
	}{{"GET", 200}, {"HEAD", 200}, {"POST", 405}, {"DELETE", 405}} {
		req, _ := http.NewRequest(tt.method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %s, want %d", tt.method, resp.Status, tt.want)
		}
	}
}

// TestMetrics: the handler serves the sessionmesh collector's metrics with
// the Go runtime's, from a registry per Status: two members in one process
// do not collide, and each counts its own handshakes.
func TestMetrics(t *testing.T) {
	m := startMember(t, "cache")
	m.traffic(t)
	other := status.New(status.Source{Name: "node-0", Mode: "cache", Cluster: m.c.Nodes[0].Cluster, Store: m.c.Nodes[0].Store, Adapter: m.c.Nodes[0].Cache})
	defer other.Close()

	var resumed13 uint64
	for _, h := range m.status.Report().Counters.Handshakes {
		if h.Version == "TLS1.3" {
			resumed13 = h.Resumed
		}
	}
	_, body := get(t, serve(t, "/metrics", m.status.Metrics()), "")
	for _, want := range []string{
		fmt.Sprintf(`sessionmesh_handshakes_total{result="resumed",version="TLS1.3"} %d`, resumed13),
		"sessionmesh_store_sessions", "sessionmesh_cluster_members", "go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in the metrics", want)
		}
	}
	_, body = get(t, serve(t, "/other/metrics", other.Metrics()), "")
	if !strings.Contains(body, `sessionmesh_handshakes_total{result="full",version="TLS1.3"}`) {
		t.Errorf("second Status serves no sessionmesh_handshakes_total:\n%s", body)
	}
}

// TestTicketMetrics: without a store, the metrics have no store series, and
// the ticket keys'.
func TestTicketMetrics(t *testing.T) {
	m := startMember(t, "tickets")
	_, body := get(t, serve(t, "/metrics", m.status.Metrics()), "")
	if !strings.Contains(body, "sessionmesh_handshakes_total") || !strings.Contains(body, "sessionmesh_ticket_keys") {
		t.Errorf("no handshake or ticket key metrics:\n%s", body)
	}
	if strings.Contains(body, "sessionmesh_store_") {
		t.Error("store metrics without a store")
	}
}

// TestClose: Close stops the sampler, may be called twice, and leaves a
// Status that still reports.
func TestClose(t *testing.T) {
	m := startMember(t, "cache")
	if err := m.status.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.status.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if r := m.status.Report(); r.Node != "node-1" || len(r.Members) != 3 {
		t.Errorf("report after Close: %+v", r)
	}
}

// TestNewPanics: a Source without its required parts is a programming
// error, caught at New rather than at the first request.
func TestNewPanics(t *testing.T) {
	c := testcluster.Start(t, 1, testcluster.Options{})
	for _, tt := range []struct {
		name string
		src  status.Source
	}{
		{"no cluster", status.Source{Adapter: c.Nodes[0].Cache}},
		{"no adapter", status.Source{Cluster: c.Nodes[0].Cluster}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			status.New(tt.src)
		})
	}
}

// TestBusy: requests whose clients do not read the answer hold at most 4
// places, page and metrics together; a fifth gets 503 at once, and once
// they finish, requests are answered again.
func TestBusy(t *testing.T) {
	m := startMember(t, "cache")
	release := make(chan struct{})
	var held []chan struct{}
	var stuck sync.WaitGroup
	for i := range 4 {
		w := &stuckWriter{header: http.Header{}, started: make(chan struct{}), release: release}
		held = append(held, w.started)
		h := m.status.Metrics()
		if i%2 == 1 {
			h = m.status
		}
		stuck.Go(func() { h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil)) })
	}
	for _, started := range held {
		<-started // each is writing, and stuck
	}
	for _, h := range []http.Handler{m.status, m.status.Metrics()} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("a fifth request: %d %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	close(release)
	stuck.Wait() // their places are given back
	for _, h := range []http.Handler{m.status, m.status.Metrics()} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("after the stuck requests: %d, want 200", rec.Code)
		}
	}
}

// stuckWriter is a client that does not read: its first Write says it
// started, and blocks until release is closed.
type stuckWriter struct {
	header  http.Header
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (w *stuckWriter) Header() http.Header { return w.header }
func (w *stuckWriter) WriteHeader(int)     {}
func (w *stuckWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.release
	return len(b), nil
}
