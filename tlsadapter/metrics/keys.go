package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
)

// keyMetrics describes ticket mode's keys on this node.
type keyMetrics struct {
	keys, activeAge, generated *prometheus.Desc
}

func newKeyMetrics() *keyMetrics {
	return &keyMetrics{
		keys: newDesc("ticket_keys",
			"Ticket keys this node holds, by state: staged (decrypt-only, not yet encrypting), active (encrypting), retired (decrypt-only until its tickets expire).",
			"state"),
		activeAge: newDesc("ticket_key_active_age_seconds",
			"Time since the key that encrypts new tickets was generated; absent while there is none."),
		generated: newDesc("ticket_keys_generated_total",
			"Ticket keys this node generated (the oldest member generates them for everybody)."),
	}
}

func (m *keyMetrics) describe(ch chan<- *prometheus.Desc) {
	ch <- m.keys
	ch <- m.activeAge
	ch <- m.generated
}

func (m *keyMetrics) collect(ch chan<- prometheus.Metric, keys []ticketkeys.Info, generated uint64, now time.Time) {
	var count [3]int
	for _, k := range keys {
		if int(k.State) < len(count) {
			count[k.State]++
		}
		if k.State == ticketkeys.Active {
			ch <- gauge(m.activeAge, max(0, now.Sub(k.Created).Seconds()))
		}
	}
	for _, st := range []ticketkeys.State{ticketkeys.Staged, ticketkeys.Active, ticketkeys.Retired} {
		ch <- gauge(m.keys, float64(count[st]), st.String())
	}
	ch <- counter(m.generated, float64(generated))
}
