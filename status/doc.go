// Package status shows how one sessionmesh member is doing: a page for
// people, the same facts as JSON for scripts, and Prometheus metrics.
//
// Give New the member's parts (its cluster.Node, its TLS adapter, and its
// store in cache mode or its ticket-key rotator in ticket mode) and mount
// the Status, which is an http.Handler, wherever you keep your debug pages:
//
//	s := status.New(status.Source{
//		Name: node.Name(), Mode: "cache", Started: time.Now(),
//		Cluster: node, Store: st, Adapter: cache, // ticket mode: no Store; Adapter: tickets, Keys: rotator
//	})
//	defer s.Close()
//	mux.Handle("GET /debug/sessionmesh/{$}", s)
//	mux.Handle("GET /debug/sessionmesh/metrics", s.Metrics())
//
// The request's path does not matter to the Status, and the page links to
// nothing but itself, by a relative link, so any prefix works, with or
// without http.StripPrefix. The page and the JSON show what the member
// knows, to whoever can reach them: mount them where only operators can.
//
// # The page
//
// The page refreshes itself every 5 seconds (a meta refresh; it has no
// JavaScript) and shows:
//
//   - the resumption rate over the last minute: resumed handshakes as a
//     percentage, rounded down so that 100% means every one;
//   - in cache mode, the member's share of the ring against a fair share,
//     its data connections to its peers, the sessions it holds against its
//     memory budget, and how long lookups at other members took;
//   - in ticket mode, the age of the key that encrypts new tickets, and
//     every key with its state and when it activates and is dropped;
//   - handshakes per second, resumed and full, in 5-second bars;
//   - the members with their state, round-trip time and addresses;
//   - why offered sessions were not resumed in the last minute, with what
//     each reason means, and the totals since the start.
//
// A member without a store (Source.Store nil, as in ticket mode) has no
// ring, no sessions and no peer lookups: the page leaves those out.
//
// # The JSON
//
// With ?format=json, or an Accept header naming application/json before
// any HTML type, the Status answers Report as JSON: snake_case names, times
// in RFC 3339, durations in seconds, counters since the parts started:
//
//	node, mode, time, started, uptime_seconds
//	members[]     name, state (alive|suspect), self, rtt_seconds, gossip_addr, data_addr, started
//	cluster       alive, suspect, dead, health
//	ring          nodes, share, fair_share, peers_connected, rebalancing, changes   (with a store)
//	sessions      held, bytes, max_bytes                                             (with a store)
//	last_minute   seconds, handshakes, resumed, full, resumption_rate (null without handshakes),
//	              misses{reason: n}, peer_latency{lookups, mean_seconds, p50_seconds, p99_seconds} (with a store),
//	              intervals[]{from, seconds, resumed, full}
//	ticket_keys[] id, state (staged|active|retired), created, activate, expire, age_seconds (ticket mode)
//	counters      handshakes[]{version, resumed, full}, resumption_hits, resumption_misses{reason: n},
//	              tickets_issued, ticket_issue_errors, ticket_keys_generated (ticket mode),
//	              store{every field of store.Stats: sessions, ..., copies_pending, peer_latency, ...} (with a store)
//
// Report's types document every field. Without a store, ring, sessions,
// last_minute.peer_latency and counters.store are absent, not zero. The
// miss reasons are those of tlsadapter.MissReason (not_found, expired,
// server_name_mismatch, timeout, peer_unreachable, decode_error, malformed,
// unknown_ticket_key), every one present, zeros included.
//
// # The last minute
//
// A Status samples the member's counters when New is called and then every
// 5 seconds, and keeps the samples of a little over a minute. "The last
// minute" runs from the oldest sample that is less than a minute old until
// the moment of the report: the counters only grow, so the difference is
// what happened in between. last_minute.seconds says exactly how long that
// was: between 55 and 60 seconds once the Status has run for a minute, less
// before (it counts nothing from before New). The intervals are the spans
// between consecutive samples, the last one ending at the report.
//
// # Metrics
//
// Metrics returns a Prometheus handler over a registry of the Status's own:
// the collector of package tlsadapter/metrics over the same parts (names
// start with sessionmesh_), the Go runtime's go_* and the process's
// process_* metrics. Several members in one process each have their own.
//
// # Lifecycle
//
// New starts one goroutine, the sampler; Close stops it and waits for it,
// and may be called twice. Close the Status before the parts it reports on.
package status
