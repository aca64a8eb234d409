package sessionmesh

import (
	"net/http"
	"path"

	"github.com/sessionmesh/sessionmesh/status"
)

// Handler returns an HTTP handler for operators: the member's status page
// for people, the same facts as JSON for scripts (?format=json, or an Accept
// header asking for application/json), and its Prometheus metrics at any
// path ending in /metrics: the sessionmesh_* series, and the Go runtime's
// (go_*) and the process's (process_*), from a registry of the member's own.
// Any other path under the mount shows the page. It works under any prefix:
//
//	mux.Handle("/debug/sessionmesh/", m.Handler())
//	// /debug/sessionmesh/          the page, or JSON
//	// /debug/sessionmesh/metrics   Prometheus text
//
// It shows the member's view of the cluster (members, addresses, rates,
// ticket key IDs, never a key or a session) to whoever can reach it: mount
// it where only operators can. Package status documents every field.
func (m *Member) Handler() http.Handler {
	metrics := m.status.Metrics()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Base(r.URL.Path) == "metrics" {
			metrics.ServeHTTP(w, r)
			return
		}
		m.status.ServeHTTP(w, r)
	})
}

// Status returns what the status page shows, as a value: the members, the
// resumption rate over the last minute, the sessions held, and more.
func (m *Member) Status() status.Report { return m.status.Report() }
