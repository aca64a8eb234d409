package status

import "time"

// The facts a Status reports, as Report returns them and as ServeHTTP
// answers them in JSON. Field names in JSON are snake_case; times are
// RFC 3339; durations are in seconds; counters count from the start of the
// member's parts (the adapter, the store), not of the Status.

// Report is everything a Status says about its member at one moment.
type Report struct {
	Node          string         `json:"node"`                  // the member's name (Source.Name)
	Mode          string         `json:"mode"`                  // how sessions are shared (Source.Mode)
	Time          time.Time      `json:"time"`                  // when the report was made
	Started       time.Time      `json:"started"`               // when the member started (Source.Started)
	UptimeSeconds float64        `json:"uptime_seconds"`        // time since then
	Members       []Member       `json:"members"`               // the live members as this member sees them, by name
	Cluster       ClusterSummary `json:"cluster"`               // members counted by state
	Ring          *Ring          `json:"ring,omitempty"`        // this member's consistent-hash ring; nil without a store
	Sessions      *Sessions      `json:"sessions,omitempty"`    // the session records this member holds; nil without a store
	LastMinute    LastMinute     `json:"last_minute"`           // what happened in about the last minute
	TicketKeys    []TicketKey    `json:"ticket_keys,omitempty"` // ticket mode: the keys this member holds, in activation order
	Counters      Counters       `json:"counters"`              // the raw counters
}

// Member is one live member of the cluster.
type Member struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`       // alive, or suspect: it answered none of this member's last probes
	Self       bool      `json:"self"`        // the member is the one reporting
	RTTSeconds float64   `json:"rtt_seconds"` // round trip of the last answered probe of it; 0 for itself, or before one is answered
	GossipAddr string    `json:"gossip_addr"` // where it gossips (the address to join)
	DataAddr   string    `json:"data_addr"`   // its peer data channel; "" while it serves none
	Started    time.Time `json:"started"`     // when it started, by its own clock
}

// ClusterSummary counts the members the reporting member knows of, by state.
type ClusterSummary struct {
	Alive   int `json:"alive"`   // live and answering, the reporting member included
	Suspect int `json:"suspect"` // live, but silent to its last probes
	Dead    int `json:"dead"`    // died or left, still being redialed
	Health  int `json:"health"`  // memberlist's awareness score: 0 is healthy, higher when the member is slow
}

// Ring describes the member's consistent-hash ring.
type Ring struct {
	Nodes          int     `json:"nodes"`           // members on the ring, this one included
	Share          float64 `json:"share"`           // the fraction of session IDs this member owns, 0 to 1
	FairShare      float64 `json:"fair_share"`      // 1/nodes, for comparison
	PeersConnected int     `json:"peers_connected"` // members this one has a live data connection to
	Rebalancing    bool    `json:"rebalancing"`     // still sending records whose owners changed with the ring
	Changes        uint64  `json:"changes"`         // ring rebuilds since the store started
}

// Sessions describes the session records the member holds.
type Sessions struct {
	Held     int   `json:"held"`      // records in memory: sessions made here and copies of others'
	Bytes    int64 `json:"bytes"`     // the memory they cost, overhead included
	MaxBytes int64 `json:"max_bytes"` // the budget; the least recently used go first beyond it

	WebHeld     int   `json:"web_held"`      // web sessions (and tombstones of deleted ones) in memory
	WebBytes    int64 `json:"web_bytes"`     // the memory they cost
	WebMaxBytes int64 `json:"web_max_bytes"` // their budget, apart from max_bytes
}

// LastMinute is what happened from the oldest sample less than a minute
// old until the report was made.
type LastMinute struct {
	Seconds        float64           `json:"seconds"`                // the window's length: a minute, give or take the sampling interval; less at first
	Handshakes     uint64            `json:"handshakes"`             // TLS handshakes completed
	Resumed        uint64            `json:"resumed"`                // of which resumed a session
	Full           uint64            `json:"full"`                   // of which were full handshakes
	ResumptionRate *float64          `json:"resumption_rate"`        // resumed/handshakes, 0 to 1; null without handshakes
	Misses         map[string]uint64 `json:"misses"`                 // offered tickets not resumed, by reason (every reason, zeros included)
	PeerLatency    *PeerLatency      `json:"peer_latency,omitempty"` // lookups at other members; nil without a store
	Intervals      []Interval        `json:"intervals"`              // handshakes between consecutive samples, oldest first
}

// PeerLatency summarises the lookups at other members. The quantiles are
// the upper bounds of the histogram buckets they fall in.
type PeerLatency struct {
	Lookups     uint64  `json:"lookups"`
	MeanSeconds float64 `json:"mean_seconds"`
	P50Seconds  float64 `json:"p50_seconds"`
	P99Seconds  float64 `json:"p99_seconds"`
}

// Interval is the handshakes between two consecutive samples (the last one
// ends when the report was made).
type Interval struct {
	From    time.Time `json:"from"`
	Seconds float64   `json:"seconds"`
	Resumed uint64    `json:"resumed"`
	Full    uint64    `json:"full"`
}

// TicketKey is one ticket key, without its secret.
type TicketKey struct {
	ID         string     `json:"id"`          // as in tickets and logs, 16 hex digits
	State      string     `json:"state"`       // staged, active or retired
	Created    time.Time  `json:"created"`     // when it was generated
	Activate   time.Time  `json:"activate"`    // when it may start encrypting
	Expire     *time.Time `json:"expire"`      // when it is dropped; null for a seed key
	AgeSeconds float64    `json:"age_seconds"` // time since it was generated
}

// Counters holds the raw counters, as the parts' Stats snapshots have them.
type Counters struct {
	Handshakes          []VersionCount    `json:"handshakes"`                      // by TLS version, oldest first
	ResumptionHits      uint64            `json:"resumption_hits"`                 // offered tickets that yielded a session
	ResumptionMisses    map[string]uint64 `json:"resumption_misses"`               // offered tickets that did not, by reason
	TicketsIssued       uint64            `json:"tickets_issued"`                  // tickets handed out
	TicketIssueErrors   uint64            `json:"ticket_issue_errors"`             // of which could not be stored or sealed
	TicketKeysGenerated *uint64           `json:"ticket_keys_generated,omitempty"` // ticket mode: keys this member generated
	Store               *StoreCounters    `json:"store,omitempty"`                 // nil without a store
}

// VersionCount is the handshakes of one TLS version.
type VersionCount struct {
	Version string `json:"version"` // TLS1.0 to TLS1.3
	Resumed uint64 `json:"resumed"`
	Full    uint64 `json:"full"`
}

// StoreCounters is store.Stats, field for field.
type StoreCounters struct {
	Sessions       int       `json:"sessions"`
	Bytes          int64     `json:"bytes"`
	MaxBytes       int64     `json:"max_bytes"`
	Evictions      uint64    `json:"evictions"`      // records dropped to stay within max_bytes
	Expirations    uint64    `json:"expirations"`    // records dropped because they expired
	LocalHits      uint64    `json:"local_hits"`     // lookups answered from this member's memory
	RemoteHits     uint64    `json:"remote_hits"`    // lookups answered by another member
	Misses         uint64    `json:"misses"`         // lookups that found nothing
	RemoteErrors   uint64    `json:"remote_errors"`  // lookups that could not reach a member in time
	LocalPuts      uint64    `json:"local_puts"`     // records written here (sessions made here, and copies)
	RemotePuts     uint64    `json:"remote_puts"`    // sessions made here that another member stored
	ServedGets     uint64    `json:"served_gets"`    // lookups by other members answered with a record
	ServedPuts     uint64    `json:"served_puts"`    // records other members sent that were stored
	Replicated     uint64    `json:"replicated"`     // copies sent to replicas
	Repaired       uint64    `json:"repaired"`       // copies sent back to owners that lacked them
	Rebalanced     uint64    `json:"rebalanced"`     // copies sent to new owners after a ring change
	HandedOff      uint64    `json:"handed_off"`     // copies handed over by a Leave
	CopyErrors     uint64    `json:"copy_errors"`    // copies a member did not take
	CopiesDropped  uint64    `json:"copies_dropped"` // copies dropped because the queue was full
	CopiesPending  int64     `json:"copies_pending"` // copies queued or being sent now
	PeerLatency    Histogram `json:"peer_latency"`   // lookups at other members
	RingNodes      int       `json:"ring_nodes"`
	PeersConnected int       `json:"peers_connected"`
	RingShare      float64   `json:"ring_share"`
	RingChanges    uint64    `json:"ring_changes"`
	Rebalancing    bool      `json:"rebalancing"`
	WebSessions    int       `json:"web_sessions"`  // web sessions held here, tombstones included
	WebBytes       int64     `json:"web_bytes"`     // memory they cost
	WebMaxBytes    int64     `json:"web_max_bytes"` // their budget, apart from max_bytes
	WebEvictions   uint64    `json:"web_evictions"` // web sessions dropped to stay within web_max_bytes
	WebFinds       uint64    `json:"web_finds"`     // web session reads called here
	WebFound       uint64    `json:"web_found"`     // of those, sessions found
	WebCommits     uint64    `json:"web_commits"`   // web session writes called here and acknowledged
	WebDeletes     uint64    `json:"web_deletes"`   // web session deletes called here and acknowledged
	WebErrors      uint64    `json:"web_errors"`    // web session calls that failed
}

// Histogram is a latency histogram: Counts[i] observations took at most
// BoundsSeconds[i] (and more than the bound before); the last count, one
// more than the bounds, is of those above them all.
type Histogram struct {
	BoundsSeconds []float64 `json:"bounds_seconds"`
	Counts        []uint64  `json:"counts"`
	SumSeconds    float64   `json:"sum_seconds"`
}
