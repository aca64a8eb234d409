package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

// metricsHandler returns the handler of a node's GET /metrics: the
// sessionmesh collector over the node's parts, and the Go runtime's and the
// process's metrics, from a registry of the node's own.
func metricsHandler(src *statusSource, logger *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.New(metrics.Options{Cluster: src.cluster, Store: src.store, Adapter: src.adapter, Keys: src.keys}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	})
}
