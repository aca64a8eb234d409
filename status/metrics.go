package status

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

// newMetricsHandler returns the handler of src's Prometheus metrics: the
// sessionmesh collector over src's parts, and the Go runtime's and the
// process's metrics, from a registry of its own (a second member in the
// same process would collide in a shared one).
func newMetricsHandler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.New(metrics.Options{Cluster: src.Cluster, Store: src.Store, Adapter: src.Adapter, Keys: src.Keys, Now: src.Now}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A scrape the client abandons is its business, not a warning: a
		// stranger aborting requests must not write a log line each.
		ErrorLog: slog.NewLogLogger(src.Logger.Handler(), slog.LevelDebug),
	})
}
