package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
	"github.com/sessionmesh/sessionmesh/probe"
)

// localCluster starts n members in this process, each with an HTTPS server
// that serves its status and metrics as the demo's nodes do, and returns
// them as the scene's nodes (pid 0: there is no process of their own to
// watch).
func localCluster(t *testing.T, n int) ([]*sessionmesh.Member, []node) {
	t.Helper()
	cert, _, err := selfsigned.New(serverName)
	if err != nil {
		t.Fatal(err)
	}
	secret := sessionmesh.NewSecret()
	var members []*sessionmesh.Member
	var nodes []node
	for i := range n {
		cfg := sessionmesh.LocalConfig()
		cfg.Name, cfg.Secret = fmt.Sprintf("node-%d", i+1), secret
		if i > 0 {
			cfg.Join = []string{members[0].GossipAddr()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		m, err := sessionmesh.Start(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		mux := http.NewServeMux()
		mux.Handle("GET /status", m.Handler())
		mux.Handle("GET /metrics", m.Handler())
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, m.Name()) })
		srv := httptest.NewUnstartedServer(mux)
		srv.TLS = m.TLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the attacks' handshakes fail by design
		srv.StartTLS()
		t.Cleanup(srv.Close)
		members = append(members, m)
		nodes = append(nodes, node{name: cfg.Name, tls: srv.Listener.Addr().String(), gossip: m.GossipAddr(), data: m.DataAddr()})
	}
	w := &watcher{scene: scene{nodes: nodes}, j: &journal{}, status: newStatusClient()}
	defer w.status.close()
	if _, err := w.awaitWhole(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return members, nodes
}

func sum(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

// TestDataPortFlood floods a member's data port with junk connections from
// a stranger's address for two seconds while a watch probes resumption
// across the members: the member refuses them, counts them, and a session
// made on one member still resumes on the other.
func TestDataPortFlood(t *testing.T) {
	t.Parallel()
	members, nodes := localCluster(t, 2)
	target := members[1]
	s := scene{nodes: nodes, target: 1}
	w := &watcher{scene: s, j: &journal{}, status: newStatusClient()}
	defer w.status.close()
	from, _ := parseSources("127.0.0.2")

	before := sum(target.Store().Stats().Rejected)
	tl := newTally("connections")
	win := w.open(context.Background(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	dataConnects(ctx, s.victim().data, from, 1000, 16, tl)
	cancel()
	m := win.close()
	refused := sum(target.Store().Stats().Rejected) - before

	if tl.sent.Load() < 500 {
		t.Fatalf("%d connections in 2 s, want about 2,000", tl.sent.Load())
	}
	// Every connection is refused, over the admission bounds or as not
	// TLS; a few may still be on their way.
	if refused < uint64(tl.sent.Load())/2 {
		t.Errorf("the member refused %d of %d connections", refused, tl.sent.Load())
	}
	if m.rejected["peer_connection_over_limit"] == 0 {
		t.Errorf("the member's metrics show no connection over the admission bounds: %v", m.rejected)
	}
	if m.probes.total == 0 || m.probes.resumed != m.probes.total {
		t.Errorf("probes during the flood: %d of %d resumed (%q)", m.probes.resumed, m.probes.total, m.probes.misses)
	}
	r := probe.Pair(context.Background(), nodes[0].tls, nodes[1].tls, probe.Config{ServerName: serverName, InsecureSkipVerify: true})
	if !r.Resumed {
		t.Errorf("after the flood, %s -> %s: %s %v %s", nodes[0].name, nodes[1].name, r, r.Err, r.Note)
	}
}

// TestGossipFlood sends a member junk packets and oversized streams for a
// second each: it refuses and counts every kind.
func TestGossipFlood(t *testing.T) {
	t.Parallel()
	members, nodes := localCluster(t, 2)
	target := members[1].Node()
	from, _ := parseSources("127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	packets := newTally("packets")
	gossipPackets(ctx, nodes[1].gossip, from, 5000, 1400, true, packets)
	cancel()
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	streams := newTally("streams")
	gossipStreams(ctx, nodes[1].gossip, from, 4, hugeStream, 0, streams)
	cancel()

	// The gate counts a packet after it has read it: wait for the last.
	// On a busy machine the kernel may drop some before they are read.
	sent := uint64(packets.sent.Load())
	deadline := time.Now().Add(5 * time.Second)
	for target.Stats().Rejected["gossip_packet_unauthenticated"] < sent && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := target.Stats().Rejected
	if sent < 1000 || got["gossip_packet_unauthenticated"] < sent/2 {
		t.Errorf("sent %d packets, the member refused %d as unauthenticated", sent, got["gossip_packet_unauthenticated"])
	}
	// Up to 4 streams were still open when the attack ended, and closed by
	// the attacker, not the member.
	if streams.sent.Load() == 0 || got["gossip_stream_oversized"] == 0 || streams.cut.Load()+4 < streams.sent.Load() {
		t.Errorf("opened %d streams, the member closed %d and refused %d as oversized", streams.sent.Load(), streams.cut.Load(), got["gossip_stream_oversized"])
	}
	if n := len(target.Members()); n != 2 {
		t.Errorf("the member sees %d members after the flood, want 2", n)
	}
}
