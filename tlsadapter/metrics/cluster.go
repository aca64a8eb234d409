package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// clusterMetrics describes membership as this node sees it.
type clusterMetrics struct {
	members, health *prometheus.Desc
}

func newClusterMetrics() *clusterMetrics {
	return &clusterMetrics{
		members: newDesc("cluster_members",
			"Members as this node sees them, by state: alive (answering its probes, itself included), suspect (live, but silent for its last probes), dead (died or left, still being redialed).",
			"state"),
		health: newDesc("cluster_health_score",
			"memberlist's awareness score: 0 while this node keeps up with its probes, higher when it or its network is slow."),
	}
}

func (m *clusterMetrics) describe(ch chan<- *prometheus.Desc) {
	ch <- m.members
	ch <- m.health
}

func (m *clusterMetrics) collect(ch chan<- prometheus.Metric, s cluster.Stats) {
	ch <- gauge(m.members, float64(s.Members-s.Suspect), "alive")
	ch <- gauge(m.members, float64(s.Suspect), "suspect")
	ch <- gauge(m.members, float64(s.Dead), "dead")
	ch <- gauge(m.health, float64(s.Health))
}
