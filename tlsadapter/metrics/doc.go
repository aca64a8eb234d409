// Package metrics exports a sessionmesh node's statistics to Prometheus.
//
// The core packages count what they do in plain atomic counters and hand
// them out as snapshots (tlsadapter.Cache.Stats, store.Store.Stats,
// cluster.Node.Stats, ticketkeys.Rotator.Keys). This package turns those
// snapshots into Prometheus metrics, and lives apart from them so that
// embedding sessionmesh does not pull client_golang into a program that does
// not want it.
//
// A Collector reads the snapshots when it is scraped and at no other time:
// nothing it does touches the handshake path. Register one per node, on a
// registry of your own:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.New(metrics.Options{
//		Cluster: node, Store: st, Adapter: cache, // Keys: rotator, in ticket mode
//	}))
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every part is optional: a collector over only an adapter exports only the
// handshake and resumption metrics. Several nodes in one process (tests,
// benchmarks) each need a label that tells them apart; wrap the registerer
// with prometheus.WrapRegistererWith(prometheus.Labels{"node": name}, reg).
//
// # Metrics
//
// All names start with sessionmesh_. Counters count from the start of the
// node; rate() them. The ones to watch first:
//
//   - sessionmesh_handshakes_total{result="resumed"|"full", version="TLS1.3"|...}:
//     every handshake on a config from TLSConfig. The resumption rate is
//     the resumed rate over the sum.
//   - sessionmesh_resumption_misses_total{reason}: tickets a client offered
//     that did not resume, by reason (not_found, expired,
//     server_name_mismatch, timeout, peer_unreachable, decode_error,
//     malformed, unknown_ticket_key).
//   - sessionmesh_store_peer_request_duration_seconds: how long lookups at
//     other members take, a histogram.
//   - sessionmesh_cluster_members{state="alive"|"suspect"|"dead"}.
//
// The store's gauges and counters (sessions, bytes, reads by where they were
// answered, copies by kind), the ring (nodes, this node's share) and ticket
// keys (by state, the active key's age, keys generated) complete the picture.
// docs/operations.md lists every metric with what a healthy value looks like.
package metrics
