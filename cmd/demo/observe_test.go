//go:build unix

package main

import (
	"crypto/tls"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestObservability: in cache mode, after sessions made on node-1 resume on
// node-2, node-2's /metrics counts them, and a ticket nobody issued as a
// not_found miss; its /status tells the same as a page and as JSON; the
// runner's rates line follows; and the probe reports every pair reused.
func TestObservability(t *testing.T) {
	p, nodes := startCluster(t, 3)
	a, b := nodes["node-1"], nodes["node-2"]
	o := newObserver(t)
	resumed13 := `sessionmesh_handshakes_total{result="resumed",version="TLS1.3"}`
	notFound := `sessionmesh_resumption_misses_total{reason="not_found"}`

	before := o.metrics(b)
	for range 3 {
		if resumed, err := resumeAcross(a, b, tls.VersionTLS13); err != nil || !resumed {
			t.Fatalf("node-1 -> node-2: resumed=%v err=%v", resumed, err)
		}
	}
	offerForged(t, a, b, tls.VersionTLS13, randomTicket)
	after := o.metrics(b)

	t.Run("metrics", func(t *testing.T) {
		if got := after[resumed13] - before[resumed13]; got != 3 {
			t.Errorf("%s rose by %v, want 3 (before %v, after %v)", resumed13, got, before[resumed13], after[resumed13])
		}
		if got := after[notFound] - before[notFound]; got != 1 {
			t.Errorf("%s rose by %v, want 1", notFound, got)
		}
		for series, want := range map[string]float64{
			`sessionmesh_cluster_members{state="alive"}`: 3,
			`sessionmesh_ring_nodes`:                     3,
			`sessionmesh_store_peers_connected`:          2,
		} {
			if after[series] != want {
				t.Errorf("%s = %v, want %v", series, after[series], want)
			}
		}
		if after[`sessionmesh_store_peer_request_duration_seconds_count`] < 1 && after[`sessionmesh_store_gets_total{result="local_hit"}`] < 3 {
			t.Errorf("node-2 found node-1's sessions neither locally nor at a peer:\n%v", after)
		}
	})

	t.Run("status JSON", func(t *testing.T) {
		r := o.status(b)
		if r.Node != "node-2" || r.Mode != "cache" {
			t.Errorf("node %q mode %q, want node-2 in cache mode", r.Node, r.Mode)
		}
		var names []string
		for _, m := range r.Members {
			names = append(names, m.Name)
			if m.State != "alive" || m.Self != (m.Name == "node-2") {
				t.Errorf("member %+v: want alive, self only for node-2", m)
			}
		}
		if !slices.Equal(names, []string{"node-1", "node-2", "node-3"}) {
			t.Errorf("members %v", names)
		}
		if r.Ring == nil || r.Sessions == nil || r.Counters.Store == nil {
			t.Fatalf("cache mode without ring, sessions or store counters: %+v", r)
		}
		if r.Cluster.Alive != 3 || r.Ring.Nodes != 3 || r.Ring.Share <= 0 || r.Ring.Share >= 1 {
			t.Errorf("cluster %+v, ring %+v", r.Cluster, r.Ring)
		}
		lm := r.LastMinute
		if lm.Resumed < 3 || lm.Misses["not_found"] < 1 || lm.ResumptionRate == nil || lm.Handshakes != lm.Resumed+lm.Full {
			t.Errorf("last minute %+v: want at least 3 resumed and 1 not_found", lm)
		}
		if r.Sessions.Held < 1 || r.Sessions.MaxBytes <= 0 || r.Counters.Store.Sessions != r.Sessions.Held {
			t.Errorf("sessions %+v, store counters %+v", r.Sessions, r.Counters.Store)
		}
		// Accept: application/json asks for the same.
		var raw map[string]any
		if err := json.Unmarshal([]byte(o.get(b, "/status", "application/json", "application/json")), &raw); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"node", "mode", "time", "started", "uptime_seconds", "members", "cluster", "ring", "sessions", "last_minute", "counters"} {
			if _, ok := raw[key]; !ok {
				t.Errorf("no %q in the JSON", key)
			}
		}
		store, _ := raw["counters"].(map[string]any)["store"].(map[string]any)
		for _, key := range []string{"copies_pending", "local_hits", "remote_hits", "replicated", "peer_latency"} {
			if _, ok := store[key]; !ok {
				t.Errorf("no counters.store.%s in the JSON", key)
			}
		}
	})

	t.Run("status page", func(t *testing.T) {
		// The page itself is package status's; here, that the node serves it.
		page := o.get(b, "/status", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html")
		for _, want := range []string{"<!DOCTYPE html>", "node-1", "node-2", "node-3", "not_found"} {
			if !strings.Contains(page, want) {
				t.Errorf("no %q on the page", want)
			}
		}
	})

	t.Run("rates line", func(t *testing.T) {
		want := o.status(b).LastMinute.Resumed
		line := expectRates(p, "node-2", want, time.Now().Add(startTimeout))
		if !regexp.MustCompile(`^rates node-1=\S+( \(\d+/\d+\))? node-2=\S+ \(\d+/\d+\) node-3=\S+( \(\d+/\d+\))?$`).MatchString(line) {
			t.Errorf("rates line %q", line)
		}
	})

	t.Run("probe", func(t *testing.T) {
		addrs := []string{nodes["node-1"].tls, nodes["node-2"].tls, nodes["node-3"].tls}
		lines, code := runProbeCmd(t, append([]string{"-k"}, addrs...)...)
		if code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
		checkProbe(t, lines, addrs, func(a, b string) string { return "Reused" })
	})

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(exitTimeout); code != 0 {
		t.Errorf("runner exit status %d after SIGTERM, want 0\n%s", code, p.dump())
	}
}

// TestObservabilityTickets: in ticket mode, a ticket under a key the cluster
// does not hold (as from another cluster) counts as unknown_ticket_key, and
// /status shows the keys.
func TestObservabilityTickets(t *testing.T) {
	p, nodes := startClusterWith(t, 2, "-resumption", "tickets")
	a, b := nodes["node-1"], nodes["node-2"]
	o := newObserver(t)
	unknown := `sessionmesh_resumption_misses_total{reason="unknown_ticket_key"}`
	resumed12 := `sessionmesh_handshakes_total{result="resumed",version="TLS1.2"}`

	before := o.metrics(b)
	if resumed, err := resumeAcross(a, b, tls.VersionTLS12); err != nil || !resumed {
		t.Fatalf("node-1 -> node-2: resumed=%v err=%v", resumed, err)
	}
	// A ticket names its key in bytes 1 to 8; another cluster's key is one
	// this cluster never heard of.
	offerForged(t, a, b, tls.VersionTLS13, func(ticket []byte) []byte {
		forged := slices.Clone(ticket)
		copy(forged[1:9], randomTicket(make([]byte, 8)))
		return forged
	})
	after := o.metrics(b)
	if got := after[resumed12] - before[resumed12]; got != 1 {
		t.Errorf("%s rose by %v, want 1", resumed12, got)
	}
	if got := after[unknown] - before[unknown]; got != 1 {
		t.Errorf("%s rose by %v, want 1", unknown, got)
	}
	if after[`sessionmesh_ticket_keys{state="active"}`] != 1 {
		t.Errorf("active keys: %v, want 1", after[`sessionmesh_ticket_keys{state="active"}`])
	}

	r := o.status(b)
	if r.Mode != "tickets" || r.LastMinute.Misses["unknown_ticket_key"] < 1 || r.Counters.TicketKeysGenerated == nil {
		t.Errorf("mode %q, misses %v, keys generated %v", r.Mode, r.LastMinute.Misses, r.Counters.TicketKeysGenerated)
	}
	active := 0
	for _, k := range r.TicketKeys {
		if k.State == "active" {
			active++
		}
	}
	if active != 1 {
		t.Errorf("ticket keys %+v: want one active", r.TicketKeys)
	}
	if r.Ring != nil || r.Sessions != nil || r.Counters.Store != nil {
		t.Errorf("ticket mode reports a ring %v, sessions %v or a store %v: it runs none", r.Ring, r.Sessions, r.Counters.Store)
	}
	if page := o.get(b, "/status", "", "text/html"); !strings.Contains(page, "Ticket keys") || !strings.Contains(page, "unknown_ticket_key") {
		t.Errorf("no ticket keys or unknown_ticket_key on the page")
	}
	if nodes["node-1"].data != "" {
		t.Errorf("ticket mode announces a data port %s: it runs none", nodes["node-1"].data)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(exitTimeout); code != 0 {
		t.Errorf("runner exit status %d after SIGTERM, want 0\n%s", code, p.dump())
	}
}

// checkProbe checks that lines are the probe's, one for every ordered pair
// of addrs in order, each with the result want gives.
func checkProbe(t *testing.T, lines []string, addrs []string, want func(a, b string) string) {
	t.Helper()
	var expect []string
	for _, a := range addrs {
		for _, b := range addrs {
			expect = append(expect, "probe "+a+" -> "+b+": "+want(a, b)+" TLSv1.")
		}
	}
	if len(lines) != len(expect) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(expect), strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, expect[i]) || !regexp.MustCompile(`TLSv1\.[23]$`).MatchString(l) {
			t.Errorf("line %q, want %q2 or 3", l, expect[i])
		}
	}
}
