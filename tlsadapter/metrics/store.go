package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionmesh/sessionmesh/store"
)

// storeMetrics describes the session store: what it holds, how reads and
// writes went, the copies it sends to other members, the ring, and the web
// sessions it holds apart.
type storeMetrics struct {
	sessions, bytes, maxBytes, evictions, expirations *prometheus.Desc

	gets, localPuts, remotePuts, servedGets, servedPuts *prometheus.Desc
	peerLatency                                         *prometheus.Desc

	copies, copyErrors, copiesDropped, copiesPending *prometheus.Desc

	ringNodes, ringShare, ringChanges, rebalancing, peersConnected *prometheus.Desc

	webSessions, webBytes, webMaxBytes, webEvictions      *prometheus.Desc
	webFinds, webFound, webCommits, webDeletes, webErrors *prometheus.Desc
}

func newStoreMetrics() *storeMetrics {
	return &storeMetrics{
		sessions:    newDesc("store_sessions", "Session records held in this node's memory."),
		bytes:       newDesc("store_bytes", "Memory the records held here cost, overhead included."),
		maxBytes:    newDesc("store_max_bytes", "The memory budget for records; the least recently used go first when it is full."),
		evictions:   newDesc("store_evictions_total", "Records dropped before they expired to stay within the memory budget."),
		expirations: newDesc("store_expirations_total", "Records dropped because they expired."),

		gets: newDesc("store_gets_total",
			"Session lookups, by where they were answered (result: local_hit, remote_hit) or why not (miss, remote_error).",
			"result"),
		localPuts: newDesc("store_local_puts_total",
			"Records written to this node's memory: sessions made here, and copies other members sent."),
		remotePuts: newDesc("store_remote_puts_total",
			"Sessions made here that another member stored, because this node did not own their ID."),
		servedGets: newDesc("store_peer_gets_served_total",
			"Lookups from other members this node answered with a record."),
		servedPuts: newDesc("store_peer_puts_served_total",
			"Records other members sent that this node stored."),
		peerLatency: newDesc("store_peer_request_duration_seconds",
			"Time each lookup at another member took, answered or not."),

		copies: newDesc("store_copies_total",
			"Records sent to other members, by kind: replica (of a new session), repair (back to an owner that lacked it), rebalance (to a new owner after a ring change), handoff (by a node leaving).",
			"kind"),
		copyErrors:    newDesc("store_copy_errors_total", "Copies a member did not take (down, slow or full)."),
		copiesDropped: newDesc("store_copies_dropped_total", "Copies dropped unsent because the queue was full."),
		copiesPending: newDesc("store_copies_pending", "Copies queued or being sent now."),

		ringNodes:      newDesc("ring_nodes", "Members on this node's ring, this node included."),
		ringShare:      newDesc("ring_share_ratio", "The fraction of session IDs this node owns, 0 to 1."),
		ringChanges:    newDesc("ring_changes_total", "Times this node rebuilt its ring because the members changed."),
		rebalancing:    newDesc("ring_rebalancing", "1 while this node is still sending records whose owners changed with the ring, else 0."),
		peersConnected: newDesc("store_peers_connected", "Members on the ring this node has a live data connection to."),

		webSessions:  newDesc("web_sessions", "Web sessions held in this node's memory, tombstones of deleted ones included."),
		webBytes:     newDesc("web_bytes", "Memory the web sessions held here cost, overhead included."),
		webMaxBytes:  newDesc("web_max_bytes", "The memory budget for web sessions, apart from store_max_bytes."),
		webEvictions: newDesc("web_evictions_total", "Web sessions dropped before they expired to stay within their budget: each one logged a user out."),
		webFinds:     newDesc("web_finds_total", "Web session reads (Find) called on this node."),
		webFound:     newDesc("web_found_total", "Web session reads called on this node that found a session."),
		webCommits:   newDesc("web_commits_total", "Web session writes (Commit) called on this node that Replicas members acknowledged."),
		webDeletes:   newDesc("web_deletes_total", "Web session deletes called on this node whose tombstone Replicas members acknowledged."),
		webErrors:    newDesc("web_errors_total", "Web session calls on this node that failed: the members holding the session out of reach, or too few to take a write."),
	}
}

func (m *storeMetrics) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		m.sessions, m.bytes, m.maxBytes, m.evictions, m.expirations,
		m.gets, m.localPuts, m.remotePuts, m.servedGets, m.servedPuts, m.peerLatency,
		m.copies, m.copyErrors, m.copiesDropped, m.copiesPending,
		m.ringNodes, m.ringShare, m.ringChanges, m.rebalancing, m.peersConnected,
		m.webSessions, m.webBytes, m.webMaxBytes, m.webEvictions,
		m.webFinds, m.webFound, m.webCommits, m.webDeletes, m.webErrors,
	} {
		ch <- d
	}
}

func (m *storeMetrics) collect(ch chan<- prometheus.Metric, s store.Stats) {
	ch <- gauge(m.sessions, float64(s.Sessions))
	ch <- gauge(m.bytes, float64(s.Bytes))
	ch <- gauge(m.maxBytes, float64(s.MaxBytes))
	ch <- counter(m.evictions, float64(s.Evictions))
	ch <- counter(m.expirations, float64(s.Expirations))

	ch <- counter(m.gets, float64(s.LocalHits), "local_hit")
	ch <- counter(m.gets, float64(s.RemoteHits), "remote_hit")
	ch <- counter(m.gets, float64(s.Misses), "miss")
	ch <- counter(m.gets, float64(s.RemoteErrors), "remote_error")
	ch <- counter(m.localPuts, float64(s.LocalPuts))
	ch <- counter(m.remotePuts, float64(s.RemotePuts))
	ch <- counter(m.servedGets, float64(s.ServedGets))
	ch <- counter(m.servedPuts, float64(s.ServedPuts))
	count, sum, buckets := histogram(s.PeerLatency)
	ch <- prometheus.MustNewConstHistogram(m.peerLatency, count, sum, buckets)

	ch <- counter(m.copies, float64(s.Replicated), "replica")
	ch <- counter(m.copies, float64(s.Repaired), "repair")
	ch <- counter(m.copies, float64(s.Rebalanced), "rebalance")
	ch <- counter(m.copies, float64(s.HandedOff), "handoff")
	ch <- counter(m.copyErrors, float64(s.CopyErrors))
	ch <- counter(m.copiesDropped, float64(s.CopiesDropped))
	ch <- gauge(m.copiesPending, float64(s.CopiesPending))

	ch <- gauge(m.ringNodes, float64(s.RingNodes))
	ch <- gauge(m.ringShare, s.RingShare)
	ch <- counter(m.ringChanges, float64(s.RingChanges))
	ch <- gauge(m.rebalancing, boolValue(s.Rebalancing))
	ch <- gauge(m.peersConnected, float64(s.PeersConnected))

	ch <- gauge(m.webSessions, float64(s.WebSessions))
	ch <- gauge(m.webBytes, float64(s.WebBytes))
	ch <- gauge(m.webMaxBytes, float64(s.WebMaxBytes))
	ch <- counter(m.webEvictions, float64(s.WebEvictions))
	ch <- counter(m.webFinds, float64(s.WebFinds))
	ch <- counter(m.webFound, float64(s.WebFound))
	ch <- counter(m.webCommits, float64(s.WebCommits))
	ch <- counter(m.webDeletes, float64(s.WebDeletes))
	ch <- counter(m.webErrors, float64(s.WebErrors))
}

// histogram converts a store latency histogram, whose buckets count apart,
// into Prometheus's form: cumulative counts by upper bound in seconds. The
// last store bucket, above every bound, is the +Inf bucket that count
// implies.
func histogram(h store.Histogram) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			count += h.Counts[i]
		}
		buckets[b.Seconds()] = count
	}
	for _, c := range h.Counts[min(len(h.Bounds), len(h.Counts)):] {
		count += c
	}
	return count, h.Sum.Seconds(), buckets
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
