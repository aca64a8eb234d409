package metrics_test

import (
	"crypto/rand"
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestAdapterOnly: a collector over an adapter alone exports exactly the
// adapter's metrics, every version and reason included, with the values the
// snapshot holds.
func TestAdapterOnly(t *testing.T) {
	s := tlsadapter.Stats{
		Issued: 7, IssueErrors: 1, Found: 4,
		Misses:  map[tlsadapter.MissReason]uint64{tlsadapter.NotFound: 2, tlsadapter.UnknownKey: 3},
		Resumed: map[uint16]uint64{tls.VersionTLS13: 4},
		Full:    map[uint16]uint64{tls.VersionTLS13: 5, tls.VersionTLS12: 1},
	}
	c := metrics.New(metrics.Options{Adapter: metrics.AdapterFunc(func() tlsadapter.Stats { return s })})

	want := `
# HELP sessionmesh_handshakes_total TLS handshakes completed, by whether they resumed a session (result: resumed, full) and TLS version.
# TYPE sessionmesh_handshakes_total counter
sessionmesh_handshakes_total{result="full",version="TLS1.0"} 0
sessionmesh_handshakes_total{result="full",version="TLS1.1"} 0
sessionmesh_handshakes_total{result="full",version="TLS1.2"} 1
sessionmesh_handshakes_total{result="full",version="TLS1.3"} 5
sessionmesh_handshakes_total{result="resumed",version="TLS1.0"} 0
sessionmesh_handshakes_total{result="resumed",version="TLS1.1"} 0
sessionmesh_handshakes_total{result="resumed",version="TLS1.2"} 0
sessionmesh_handshakes_total{result="resumed",version="TLS1.3"} 4
# HELP sessionmesh_resumption_hits_total Session tickets clients offered that yielded a session to resume.
# TYPE sessionmesh_resumption_hits_total counter
sessionmesh_resumption_hits_total 4
# HELP sessionmesh_resumption_misses_total Session tickets clients offered that did not resume, by reason; each costs a full handshake.
# TYPE sessionmesh_resumption_misses_total counter
sessionmesh_resumption_misses_total{reason="decode_error"} 0
sessionmesh_resumption_misses_total{reason="expired"} 0
sessionmesh_resumption_misses_total{reason="malformed"} 0
sessionmesh_resumption_misses_total{reason="not_found"} 2
sessionmesh_resumption_misses_total{reason="peer_unreachable"} 0
sessionmesh_resumption_misses_total{reason="server_name_mismatch"} 0
sessionmesh_resumption_misses_total{reason="timeout"} 0
sessionmesh_resumption_misses_total{reason="unknown_ticket_key"} 3
# HELP sessionmesh_ticket_issue_errors_total Session tickets handed out whose session could not be stored or sealed, so they will not resume.
# TYPE sessionmesh_ticket_issue_errors_total counter
sessionmesh_ticket_issue_errors_total 1
# HELP sessionmesh_tickets_issued_total Session tickets handed to clients (one per handshake, more in TLS 1.3).
# TYPE sessionmesh_tickets_issued_total counter
sessionmesh_tickets_issued_total 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestNothing: a collector over no part describes and collects nothing, and
// registers.
func TestNothing(t *testing.T) {
	c := metrics.New(metrics.Options{})
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d metrics, want none", n)
	}
	if err := prometheus.NewPedanticRegistry().Register(c); err != nil {
		t.Error(err)
	}
}

// storeAndClusterMetrics are the names a cache-mode node exports besides the
// adapter's.
var storeAndClusterMetrics = []string{
	"sessionmesh_cluster_health_score",
	"sessionmesh_cluster_members",
	"sessionmesh_ring_changes_total",
	"sessionmesh_ring_nodes",
	"sessionmesh_ring_rebalancing",
	"sessionmesh_ring_share_ratio",
	"sessionmesh_store_bytes",
	"sessionmesh_store_copies_dropped_total",
	"sessionmesh_store_copies_pending",
	"sessionmesh_store_copies_total",
	"sessionmesh_store_copy_errors_total",
	"sessionmesh_store_evictions_total",
	"sessionmesh_store_expirations_total",
	"sessionmesh_store_gets_total",
	"sessionmesh_store_local_puts_total",
	"sessionmesh_store_max_bytes",
	"sessionmesh_store_peer_gets_served_total",
	"sessionmesh_store_peer_puts_served_total",
	"sessionmesh_store_peer_request_duration_seconds",
	"sessionmesh_store_peers_connected",
	"sessionmesh_store_remote_puts_total",
	"sessionmesh_store_sessions",
	"sessionmesh_web_bytes",
	"sessionmesh_web_commits_total",
	"sessionmesh_web_deletes_total",
	"sessionmesh_web_errors_total",
	"sessionmesh_web_evictions_total",
	"sessionmesh_web_finds_total",
	"sessionmesh_web_found_total",
	"sessionmesh_web_max_bytes",
	"sessionmesh_web_sessions",
}

var adapterMetrics = []string{
	"sessionmesh_handshakes_total",
	"sessionmesh_resumption_hits_total",
	"sessionmesh_resumption_misses_total",
	"sessionmesh_ticket_issue_errors_total",
	"sessionmesh_tickets_issued_total",
}

// TestCacheMode: on a real two-node cluster, the second node's collector
// counts the sessions it resumed from the first, and a ticket nobody issued
// as a miss, not_found; the cluster and the store are there too, and every
// metric passes Prometheus's lint.
func TestCacheMode(t *testing.T) {
	c := testcluster.Start(t, 2, testcluster.Options{})
	a, b := c.Nodes[0], c.Nodes[1]
	col := metrics.New(metrics.Options{Cluster: b.Cluster, Store: b.Store, Adapter: b.Cache})

	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cl := c.Client(v, "a.example")
		if resumed, err := cl.Connect(a.Addr); err != nil || resumed {
			t.Fatalf("first connection: resumed=%v err=%v", resumed, err)
		}
		if resumed, err := cl.Connect(b.Addr); err != nil || !resumed {
			t.Fatalf("second connection: resumed=%v err=%v", resumed, err)
		}
	}
	cl := c.Client(tls.VersionTLS13, "a.example")
	if _, err := cl.Connect(a.Addr); err != nil {
		t.Fatal(err)
	}
	cl.Offer(withTicket(t, cl.Session(), randomBytes(32)))
	if resumed, err := cl.Connect(b.Addr); err != nil || resumed {
		t.Fatalf("a ticket nobody issued: resumed=%v err=%v", resumed, err)
	}

	want := `
# HELP sessionmesh_handshakes_total TLS handshakes completed, by whether they resumed a session (result: resumed, full) and TLS version.
# TYPE sessionmesh_handshakes_total counter
sessionmesh_handshakes_total{result="full",version="TLS1.0"} 0
sessionmesh_handshakes_total{result="full",version="TLS1.1"} 0
sessionmesh_handshakes_total{result="full",version="TLS1.2"} 0
sessionmesh_handshakes_total{result="full",version="TLS1.3"} 1
sessionmesh_handshakes_total{result="resumed",version="TLS1.0"} 0
sessionmesh_handshakes_total{result="resumed",version="TLS1.1"} 0
sessionmesh_handshakes_total{result="resumed",version="TLS1.2"} 1
sessionmesh_handshakes_total{result="resumed",version="TLS1.3"} 1
# HELP sessionmesh_resumption_misses_total Session tickets clients offered that did not resume, by reason; each costs a full handshake.
# TYPE sessionmesh_resumption_misses_total counter
sessionmesh_resumption_misses_total{reason="decode_error"} 0
sessionmesh_resumption_misses_total{reason="expired"} 0
sessionmesh_resumption_misses_total{reason="malformed"} 0
sessionmesh_resumption_misses_total{reason="not_found"} 1
sessionmesh_resumption_misses_total{reason="peer_unreachable"} 0
sessionmesh_resumption_misses_total{reason="server_name_mismatch"} 0
sessionmesh_resumption_misses_total{reason="timeout"} 0
sessionmesh_resumption_misses_total{reason="unknown_ticket_key"} 0
# HELP sessionmesh_cluster_members Members as this node sees them, by state: alive (answering its probes, itself included), suspect (live, but silent for its last probes), dead (died or left, still being redialed).
# TYPE sessionmesh_cluster_members gauge
sessionmesh_cluster_members{state="alive"} 2
sessionmesh_cluster_members{state="dead"} 0
sessionmesh_cluster_members{state="suspect"} 0
# HELP sessionmesh_ring_nodes Members on this node's ring, this node included.
# TYPE sessionmesh_ring_nodes gauge
sessionmesh_ring_nodes 2
`
	err := testutil.CollectAndCompare(col, strings.NewReader(want),
		"sessionmesh_handshakes_total", "sessionmesh_resumption_misses_total",
		"sessionmesh_cluster_members", "sessionmesh_ring_nodes")
	if err != nil {
		t.Error(err)
	}
	families := gather(t, col)
	if got, want := names(families), slices.Sorted(slices.Values(append(adapterMetrics, storeAndClusterMetrics...))); !slices.Equal(got, want) {
		t.Errorf("metrics\n%v\nwant\n%v", got, want)
	}
	checkLint(t, col)

	share := families["sessionmesh_ring_share_ratio"].GetMetric()[0].GetGauge().GetValue()
	if share <= 0 || share >= 1 {
		t.Errorf("ring share %v, want between 0 and 1 for one of two nodes", share)
	}
	// The session made on a lives on b too (two replicas): b holds it.
	if n := families["sessionmesh_store_sessions"].GetMetric()[0].GetGauge().GetValue(); n < 1 {
		t.Errorf("b holds %v sessions, want at least 1", n)
	}
	h := families["sessionmesh_store_peer_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if len(h.GetBucket()) != len(b.Store.Stats().PeerLatency.Bounds) {
		t.Errorf("%d buckets, want one per store bound", len(h.GetBucket()))
	}
	var last uint64
	for _, bk := range h.GetBucket() {
		if bk.GetCumulativeCount() < last || bk.GetCumulativeCount() > h.GetSampleCount() {
			t.Errorf("bucket counts are not cumulative: %v", h.GetBucket())
			break
		}
		last = bk.GetCumulativeCount()
	}
}

// TestTicketMode: the keys a node holds are counted by state, the active
// key has an age, the node that generated it says so, and a ticket under a
// key nobody holds is a miss, unknown_ticket_key.
func TestTicketMode(t *testing.T) {
	c := testcluster.Start(t, 2, testcluster.Options{Tickets: &ticketkeys.Config{}})
	c.WaitTicketKeys()
	cols := make([]*metrics.Collector, len(c.Nodes))
	for i, nd := range c.Nodes {
		cols[i] = metrics.New(metrics.Options{Cluster: nd.Cluster, Store: nd.Store, Adapter: nd.Tickets, Keys: nd.Keys})
	}

	cl := c.Client(tls.VersionTLS13, "a.example")
	if _, err := cl.Connect(c.Nodes[0].Addr); err != nil {
		t.Fatal(err)
	}
	// A ticket in our format, under a key ID nobody has.
	forged := append([]byte{1}, randomBytes(80)...)
	cl.Offer(withTicket(t, cl.Session(), forged))
	if resumed, err := cl.Connect(c.Nodes[1].Addr); err != nil || resumed {
		t.Fatalf("a ticket under an unknown key: resumed=%v err=%v", resumed, err)
	}
	want := `
# HELP sessionmesh_resumption_misses_total Session tickets clients offered that did not resume, by reason; each costs a full handshake.
# TYPE sessionmesh_resumption_misses_total counter
sessionmesh_resumption_misses_total{reason="decode_error"} 0
sessionmesh_resumption_misses_total{reason="expired"} 0
sessionmesh_resumption_misses_total{reason="malformed"} 0
sessionmesh_resumption_misses_total{reason="not_found"} 0
sessionmesh_resumption_misses_total{reason="peer_unreachable"} 0
sessionmesh_resumption_misses_total{reason="server_name_mismatch"} 0
sessionmesh_resumption_misses_total{reason="timeout"} 0
sessionmesh_resumption_misses_total{reason="unknown_ticket_key"} 1
`
	if err := testutil.CollectAndCompare(cols[1], strings.NewReader(want), "sessionmesh_resumption_misses_total"); err != nil {
		t.Error(err)
	}

	generated := 0.0
	for i, col := range cols {
		checkLint(t, col)
		f := gather(t, col)
		for _, name := range []string{"sessionmesh_ticket_keys", "sessionmesh_ticket_key_active_age_seconds", "sessionmesh_ticket_keys_generated_total"} {
			if f[name] == nil {
				t.Fatalf("node %d: no %s", i, name)
			}
		}
		for _, m := range f["sessionmesh_ticket_keys"].GetMetric() {
			if state := m.GetLabel()[0].GetValue(); state == "active" && m.GetGauge().GetValue() != 1 {
				t.Errorf("node %d: %v active keys, want 1", i, m.GetGauge().GetValue())
			}
		}
		if age := f["sessionmesh_ticket_key_active_age_seconds"].GetMetric()[0].GetGauge().GetValue(); age < 0 || age > 600 {
			t.Errorf("node %d: active key age %vs", i, age)
		}
		generated += f["sessionmesh_ticket_keys_generated_total"].GetMetric()[0].GetCounter().GetValue()
	}
	if generated < 1 {
		t.Errorf("the nodes generated %v keys between them, want at least the one they use", generated)
	}
}

// withTicket returns s with its ticket replaced, so that a client offers a
// ticket of the test's choosing with a session it can resume from.
func withTicket(t *testing.T, s *tls.ClientSessionState, ticket []byte) *tls.ClientSessionState {
	t.Helper()
	if s == nil {
		t.Fatal("the client has no session")
	}
	_, state, err := s.ResumptionState()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := tls.NewResumptionState(ticket, state)
	if err != nil {
		t.Fatal(err)
	}
	return forged
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily)
	for _, f := range fs {
		out[f.GetName()] = f
	}
	return out
}

func names(fs map[string]*dto.MetricFamily) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for n := range fs {
			if !yield(n) {
				return
			}
		}
	})
}

func checkLint(t *testing.T, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
