package metrics

import (
	"crypto/tls"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// adapterMetrics describes what a TLS adapter counts: handshakes, and what
// became of the tickets clients offered.
type adapterMetrics struct {
	handshakes, misses, hits, issued, issueErrors *prometheus.Desc
}

func newAdapterMetrics() *adapterMetrics {
	return &adapterMetrics{
		handshakes: newDesc("handshakes_total",
			"TLS handshakes completed, by whether they resumed a session (result: resumed, full) and TLS version.",
			"result", "version"),
		misses: newDesc("resumption_misses_total",
			"Session tickets clients offered that did not resume, by reason; each costs a full handshake.",
			"reason"),
		hits: newDesc("resumption_hits_total",
			"Session tickets clients offered that yielded a session to resume."),
		issued: newDesc("tickets_issued_total",
			"Session tickets handed to clients (one per handshake, more in TLS 1.3)."),
		issueErrors: newDesc("ticket_issue_errors_total",
			"Session tickets handed out whose session could not be stored or sealed, so they will not resume."),
	}
}

func (m *adapterMetrics) describe(ch chan<- *prometheus.Desc) {
	ch <- m.handshakes
	ch <- m.misses
	ch <- m.hits
	ch <- m.issued
	ch <- m.issueErrors
}

// collect sends every version and reason, zeros included, so that a series
// exists from the first scrape and rate() sees its first increase.
func (m *adapterMetrics) collect(ch chan<- prometheus.Metric, s tlsadapter.Stats) {
	for _, v := range tlsadapter.Versions() {
		name := VersionLabel(v)
		ch <- counter(m.handshakes, float64(s.Handshakes(true, v)), "resumed", name)
		ch <- counter(m.handshakes, float64(s.Handshakes(false, v)), "full", name)
	}
	for _, r := range tlsadapter.Reasons() {
		ch <- counter(m.misses, float64(s.Missed(r)), r.String())
	}
	ch <- counter(m.hits, float64(s.Found))
	ch <- counter(m.issued, float64(s.Issued))
	ch <- counter(m.issueErrors, float64(s.IssueErrors))
}

// VersionLabel returns the version label of a TLS version: "TLS1.0" to
// "TLS1.3".
func VersionLabel(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
