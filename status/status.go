package status

import (
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

// Source names the parts of one member the status reports on. Cluster and
// Adapter are required; every other field may be left zero.
type Source struct {
	// Name is the member's name, the page's title. Usually the cluster
	// member's own name (cluster.Node.Name).
	Name string
	// Mode says how the member shares sessions: "cache" or "tickets". The
	// page describes those two (and "off") in words and shows any other
	// value as is; the JSON has it as is.
	Mode string
	// Started is when the member started, for its uptime. The zero value
	// makes the uptime meaningless; pass time.Now() at start-up.
	Started time.Time

	// Cluster is the member's gossip node: the members, their state and
	// round-trip times. Required.
	Cluster *cluster.Node
	// Store is the member's share of the session store, in cache mode:
	// the ring, the sessions held, the lookups at other members. Nil in
	// ticket mode, which has no store, no ring and no data channel; the
	// report then leaves all of those out.
	Store *store.Store
	// Adapter is the TLS adapter whose handshakes and misses the status
	// counts: a *tlsadapter.Cache or a *tlsadapter.Tickets. Required.
	Adapter metrics.Adapter
	// Keys is the ticket-key rotator, in ticket mode; nil otherwise.
	Keys *ticketkeys.Rotator

	// Logger receives the errors of writing a page or a scrape. Default:
	// discard.
	Logger *slog.Logger
	// Now returns the current time, for the samples and the report.
	// Default time.Now.
	Now func() time.Time
}

// Status reports on one member: Report gives the facts, ServeHTTP shows
// them to people (or as JSON), Metrics serves them to Prometheus. It
// samples the member's counters in a goroutine of its own, which Close
// stops. It is safe for concurrent use.
type Status struct {
	src     Source
	history history
	page    *template.Template
	metrics http.Handler
	// inFlight holds a place for each request being answered: page, JSON
	// and metrics together (see maxInFlight).
	inFlight chan struct{}

	sampler   *sampler
	closeOnce sync.Once
}

// New starts sampling src's counters, at once and then every 5 seconds, for
// what the report calls "the last minute", and returns the Status. It copies
// src. It panics if src.Cluster or src.Adapter is nil.
//
// Close stops the sampling. Until then the Status holds on to src's parts
// but does not keep them open: close them after the Status.
func New(src Source) *Status {
	if src.Cluster == nil {
		panic("status: Source.Cluster is nil")
	}
	if src.Adapter == nil {
		panic("status: Source.Adapter is nil")
	}
	if src.Logger == nil {
		src.Logger = slog.New(slog.DiscardHandler)
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	s := &Status{src: src, page: pageTemplate(), inFlight: make(chan struct{}, maxInFlight)}
	s.metrics = s.bounded(newMetricsHandler(src))
	s.sampler = startSampler(&s.history, s.sample)
	return s
}

// Metrics returns the handler of the member's Prometheus metrics: the
// sessionmesh collector (package tlsadapter/metrics) over the parts in the
// Source, and the Go runtime's and the process's metrics, from a registry of
// this Status's own, so that several members in one process do not collide.
// It is the same handler on every call, and mounts at any path. It and
// ServeHTTP answer 4 requests at once between them, and 503 to more.
func (s *Status) Metrics() http.Handler { return s.metrics }

// maxInFlight is how many requests a Status answers at once, page, JSON and
// metrics together; more get 503 at once. Each holds what it rendered (a
// scrape gathers every metric) until its client has read it all, and a
// client can refuse to read (an HTTP/2 stream with a zero window holds it
// until the server's WriteTimeout): without a bound, a few thousand such
// requests held hundreds of megabytes and starved the member's gossip.
const maxInFlight = 4

// bounded answers with h while fewer than maxInFlight requests are being
// answered, and with 503 Service Unavailable otherwise.
func (s *Status) bounded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.admit(w) {
			defer s.done()
			h.ServeHTTP(w, r)
		}
	})
}

// admit takes a place for a request, or answers 503 and reports false.
func (s *Status) admit(w http.ResponseWriter) bool {
	select {
	case s.inFlight <- struct{}{}:
		return true
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy: too many status requests at once", http.StatusServiceUnavailable)
		return false
	}
}

// done gives back the place admit took.
func (s *Status) done() { <-s.inFlight }

// Close stops the sampler and waits for it. It may be called twice, and
// always returns nil. A closed Status still answers Report, ServeHTTP and
// Metrics, but takes no more samples: the "last minute" of a later report
// reaches back to the last sample taken, however long ago.
func (s *Status) Close() error {
	s.closeOnce.Do(s.sampler.stop)
	return nil
}

// sample takes a sample of the member's counters now.
func (s *Status) sample() sample {
	sm := sample{at: s.src.Now(), adapter: s.src.Adapter.Stats()}
	if s.src.Store != nil {
		sm.latency = s.src.Store.Stats().PeerLatency
	}
	return sm
}
