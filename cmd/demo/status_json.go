package main

import "time"

// The JSON that GET /status?format=json (or with Accept: application/json)
// answers: the facts of the status page, plus every raw counter. Field
// names are snake_case; times are RFC 3339; durations are in seconds;
// counters count from the node's start.

// statusReport is the whole answer.
type statusReport struct {
	Node          string         `json:"node"`                  // this node's name
	Mode          string         `json:"mode"`                  // how sessions are shared: cache, tickets or off
	Time          time.Time      `json:"time"`                  // when the report was made
	Started       time.Time      `json:"started"`               // when the node started
	UptimeSeconds float64        `json:"uptime_seconds"`        // time since then
	Members       []memberStatus `json:"members"`               // the live members as this node sees them, by name
	Cluster       clusterStatus  `json:"cluster"`               // members counted by state
	Ring          ringStatus     `json:"ring"`                  // this node's consistent-hash ring
	Sessions      sessionStatus  `json:"sessions"`              // the session records this node holds
	LastMinute    windowStatus   `json:"last_minute"`           // what happened in about the last minute
	TicketKeys    []keyStatus    `json:"ticket_keys,omitempty"` // ticket mode: the keys this node holds, in activation order
	Counters      countersStatus `json:"counters"`              // the raw counters
}

// memberStatus is one live member.
type memberStatus struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`       // alive, or suspect: it answered none of this node's last probes
	Self       bool      `json:"self"`        // the member is this node
	RTTSeconds float64   `json:"rtt_seconds"` // round trip of this node's last answered probe of it; 0 for itself, or before one is answered
	GossipAddr string    `json:"gossip_addr"` // where it gossips (the address to -join)
	DataAddr   string    `json:"data_addr"`   // its peer data channel; "" while it serves none
	Started    time.Time `json:"started"`     // when it started, by its own clock
}

// clusterStatus counts the members this node knows of by state.
type clusterStatus struct {
	Alive   int `json:"alive"`   // live and answering, this node included
	Suspect int `json:"suspect"` // live, but silent to this node's last probes
	Dead    int `json:"dead"`    // died or left, still being redialed
	Health  int `json:"health"`  // memberlist's awareness score: 0 is healthy, higher when this node is slow
}

// ringStatus describes this node's ring.
type ringStatus struct {
	Nodes          int     `json:"nodes"`           // members on the ring, this node included
	Share          float64 `json:"share"`           // the fraction of session IDs this node owns, 0 to 1
	FairShare      float64 `json:"fair_share"`      // 1/nodes, for comparison
	PeersConnected int     `json:"peers_connected"` // members this node has a live data connection to
	Rebalancing    bool    `json:"rebalancing"`     // this node is still sending records whose owners changed with the ring
	Changes        uint64  `json:"changes"`         // ring rebuilds since the start
}

// sessionStatus describes the records this node holds.
type sessionStatus struct {
	Held     int   `json:"held"`      // records in memory: sessions made here and copies of others'
	Bytes    int64 `json:"bytes"`     // the memory they cost, overhead included
	MaxBytes int64 `json:"max_bytes"` // the budget; the least recently used go first beyond it
}

// windowStatus is what happened from the oldest sample less than a minute
// old (or the node's start) until now.
type windowStatus struct {
	Seconds        float64           `json:"seconds"`         // the window's length: a minute, give or take the sampling interval
	Handshakes     uint64            `json:"handshakes"`      // TLS handshakes completed
	Resumed        uint64            `json:"resumed"`         // of which resumed a session
	Full           uint64            `json:"full"`            // of which were full handshakes
	ResumptionRate *float64          `json:"resumption_rate"` // resumed/handshakes, 0 to 1; null without handshakes
	Misses         map[string]uint64 `json:"misses"`          // offered tickets not resumed, by reason (every reason, zeros included)
	PeerLatency    latencyStatus     `json:"peer_latency"`    // lookups at other members
	Intervals      []intervalStatus  `json:"intervals"`       // handshakes between consecutive samples, oldest first
}

// latencyStatus summarises lookups at other members. The quantiles are
// the upper bounds of the histogram buckets they fall in.
type latencyStatus struct {
	Lookups     uint64  `json:"lookups"`
	MeanSeconds float64 `json:"mean_seconds"`
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
}

// intervalStatus is the handshakes in one sampling interval.
type intervalStatus struct {
	From    time.Time `json:"from"`
	Seconds float64   `json:"seconds"`
	Resumed uint64    `json:"resumed"`
	Full    uint64    `json:"full"`
}

// keyStatus is one ticket key, without its secret.
type keyStatus struct {
	ID         string     `json:"id"`          // as in tickets and logs, hex
	State      string     `json:"state"`       // staged, active or retired
	Created    time.Time  `json:"created"`     // when it was generated
	Activate   time.Time  `json:"activate"`    // when it may start encrypting
	Expire     *time.Time `json:"expire"`      // when it is dropped; null for a seed key
	AgeSeconds float64    `json:"age_seconds"` // time since it was generated
}

// countersStatus holds the raw counters since the node's start, as the
// library's Stats snapshots have them.
type countersStatus struct {
	Handshakes          []versionCount    `json:"handshakes"`                      // by TLS version
	ResumptionHits      uint64            `json:"resumption_hits"`                 // offered tickets that yielded a session
	ResumptionMisses    map[string]uint64 `json:"resumption_misses"`               // offered tickets that did not, by reason
	TicketsIssued       uint64            `json:"tickets_issued"`                  // tickets handed out
	TicketIssueErrors   uint64            `json:"ticket_issue_errors"`             // of which could not be stored or sealed
	TicketKeysGenerated *uint64           `json:"ticket_keys_generated,omitempty"` // ticket mode: keys this node generated
	Store               storeCounters     `json:"store"`
}

// versionCount is the handshakes of one TLS version.
type versionCount struct {
	Version string `json:"version"` // TLS1.0 to TLS1.3
	Resumed uint64 `json:"resumed"`
	Full    uint64 `json:"full"`
}

// storeCounters is store.Stats, field for field.
type storeCounters struct {
	Sessions       int             `json:"sessions"`
	Bytes          int64           `json:"bytes"`
	MaxBytes       int64           `json:"max_bytes"`
	Evictions      uint64          `json:"evictions"`      // records dropped to stay within max_bytes
	Expirations    uint64          `json:"expirations"`    // records dropped because they expired
	LocalHits      uint64          `json:"local_hits"`     // lookups answered from this node's memory
	RemoteHits     uint64          `json:"remote_hits"`    // lookups answered by another member
	Misses         uint64          `json:"misses"`         // lookups that found nothing
	RemoteErrors   uint64          `json:"remote_errors"`  // lookups that could not reach a member in time
	LocalPuts      uint64          `json:"local_puts"`     // records written here (sessions made here, and copies)
	RemotePuts     uint64          `json:"remote_puts"`    // sessions made here that another member stored
	ServedGets     uint64          `json:"served_gets"`    // lookups by other members answered with a record
	ServedPuts     uint64          `json:"served_puts"`    // records other members sent that were stored
	Replicated     uint64          `json:"replicated"`     // copies sent to replicas
	Repaired       uint64          `json:"repaired"`       // copies sent back to owners that lacked them
	Rebalanced     uint64          `json:"rebalanced"`     // copies sent to new owners after a ring change
	HandedOff      uint64          `json:"handed_off"`     // copies handed over by a Leave
	CopyErrors     uint64          `json:"copy_errors"`    // copies a member did not take
	CopiesDropped  uint64          `json:"copies_dropped"` // copies dropped because the queue was full
	CopiesPending  int64           `json:"copies_pending"` // copies queued or being sent now
	PeerLatency    histogramStatus `json:"peer_latency"`   // lookups at other members
	RingNodes      int             `json:"ring_nodes"`
	PeersConnected int             `json:"peers_connected"`
	RingShare      float64         `json:"ring_share"`
	RingChanges    uint64          `json:"ring_changes"`
	Rebalancing    bool            `json:"rebalancing"`
}

// histogramStatus is a latency histogram: counts[i] observations took at
// most bounds_seconds[i] (and more than the bound before); the last count,
// one more than the bounds, is of those above them all.
type histogramStatus struct {
	BoundsSeconds []float64 `json:"bounds_seconds"`
	Counts        []uint64  `json:"counts"`
	SumSeconds    float64   `json:"sum_seconds"`
}
