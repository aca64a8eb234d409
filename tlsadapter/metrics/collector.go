package metrics

import (
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// namespace prefixes every metric name.
const namespace = "sessionmesh"

// Adapter is what the collector needs from a TLS adapter: its counters.
// *tlsadapter.Cache (cache mode) and *tlsadapter.Tickets (ticket mode) both
// implement it.
type Adapter interface {
	Stats() tlsadapter.Stats
}

// AdapterFunc adapts a function to Adapter.
type AdapterFunc func() tlsadapter.Stats

// Stats calls f.
func (f AdapterFunc) Stats() tlsadapter.Stats { return f() }

// Options name the parts of a node whose statistics a Collector exports.
// Every field may be nil: the metrics of a part that is missing are neither
// described nor collected. (A typed nil, such as a nil *tlsadapter.Cache in
// Adapter, is not missing; leave the field unset instead.)
type Options struct {
	// Cluster gives the members by state.
	Cluster *cluster.Node
	// Store gives sessions held, reads, writes, copies, peer latency and the ring.
	Store *store.Store
	// Adapter gives handshakes by result and version, and resumption misses by reason.
	Adapter Adapter
	// Keys, in ticket mode, gives ticket keys by state, the active key's
	// age and the keys this node generated.
	Keys *ticketkeys.Rotator
	// Now returns the current time, for the active key's age. Default time.Now.
	Now func() time.Time
}

// Collector is a prometheus.Collector over one node's statistics. It takes
// a snapshot of each part when scraped, so it costs nothing between scrapes.
// It is safe for concurrent use.
type Collector struct {
	opts    Options
	adapter *adapterMetrics
	store   *storeMetrics
	cluster *clusterMetrics
	keys    *keyMetrics
	// rejected is the traffic the gossip and data ports refused: one series
	// set for both (gossip_* and peer_* kinds).
	rejected *prometheus.Desc
}

// New returns a Collector over the parts in opts. It copies opts.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Collector{opts: opts}
	if opts.Adapter != nil {
		c.adapter = newAdapterMetrics()
	}
	if opts.Store != nil {
		c.store = newStoreMetrics()
	}
	if opts.Cluster != nil {
		c.cluster = newClusterMetrics()
	}
	if opts.Keys != nil {
		c.keys = newKeyMetrics()
	}
	if opts.Store != nil || opts.Cluster != nil {
		c.rejected = newDesc("rejected_total",
			"Traffic this node refused, by kind: gossip_* at the gossip port (not the cluster's label or keys, too large, too many at once), peer_* at the data port (over the admission bounds, no certificate the cluster issued, malformed). Strangers, or a member with another secret.",
			"kind")
	}
	return c
}

// Describe sends the descriptions of the metrics of every part present.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c.adapter != nil {
		c.adapter.describe(ch)
	}
	if c.store != nil {
		c.store.describe(ch)
	}
	if c.cluster != nil {
		c.cluster.describe(ch)
	}
	if c.keys != nil {
		c.keys.describe(ch)
	}
	if c.rejected != nil {
		ch <- c.rejected
	}
}

// Collect takes a snapshot of every part present and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.adapter != nil {
		c.adapter.collect(ch, c.opts.Adapter.Stats())
	}
	rejected := map[string]uint64{}
	if c.store != nil {
		s := c.opts.Store.Stats()
		c.store.collect(ch, s)
		maps.Copy(rejected, s.Rejected)
	}
	if c.cluster != nil {
		s := c.opts.Cluster.Stats()
		c.cluster.collect(ch, s)
		maps.Copy(rejected, s.Rejected)
	}
	for kind, n := range rejected {
		ch <- counter(c.rejected, float64(n), kind)
	}
	if c.keys != nil {
		c.keys.collect(ch, c.opts.Keys.Keys(), c.opts.Keys.Generated(), c.opts.Now())
	}
}

// newDesc describes a metric named sessionmesh_<name>.
func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// counter and gauge make constant metrics; the descriptions are ours, so
// their label counts always match.
func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}
