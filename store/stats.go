package store

import "sync/atomic"

// Stats is a snapshot of a store's counters and gauges.
type Stats struct {
	Sessions    int   // records held locally, expired ones not yet swept included
	Bytes       int64 // memory they cost (see shard.Cost)
	MaxBytes    int64 // the budget
	Evictions   uint64
	Expirations uint64

	WebSessions  int   // web sessions held locally, tombstones included (see WebSessions)
	WebBytes     int64 // memory they cost
	WebMaxBytes  int64 // their budget, apart from MaxBytes
	WebEvictions uint64
	WebFinds     uint64 // WebSessions.Find calls on this node
	WebFound     uint64 // of those, sessions found
	WebCommits   uint64 // WebSessions.Commit calls on this node that stored the session
	WebDeletes   uint64 // WebSessions.Delete calls on this node that stored the tombstone
	WebErrors    uint64 // WebSessions calls that failed: members out of reach, too few copies

	LocalHits    uint64 // Gets answered from local memory
	RemoteHits   uint64 // Gets answered by another member
	Misses       uint64 // Gets that found nothing
	RemoteErrors uint64 // Gets that could not reach the owner in time
	LocalPuts    uint64
	RemotePuts   uint64
	ServedGets   uint64 // peer Gets this node answered with a record
	ServedPuts   uint64 // peer Puts this node stored

	Replicated    uint64 // records sent to replicas
	Repaired      uint64 // records copied back to an owner that lacked them (read repair)
	Rebalanced    uint64 // records sent to new owners after a ring change
	HandedOff     uint64 // records handed over by Leave
	CopyErrors    uint64 // copies a member did not take (down, slow, full)
	CopiesDropped uint64 // copies dropped because the queue was full
	CopiesPending int64  // copies queued or being sent now
	// CopiesRetrying is how many records wait to be copied again to a member
	// that did not take them (down, partitioned away, leaving), or to be
	// handed to their owners (a record received by a non-owner).
	CopiesRetrying int

	PeerLatency Histogram // time each lookup at another member took, answered or not

	RingNodes      int     // members on the ring, this one included
	PeersConnected int     // members on the ring this node has a live connection to
	RingShare      float64 // the fraction of IDs this node owns
	RingChanges    uint64
	Rebalancing    bool // records are still on their way from this node to where they belong: a ring change, or copies to retry

	// Rejected counts what the data channel refused, by kind: connections
	// beyond its admission bounds, TLS handshakes without a certificate the
	// cluster issued, and malformed traffic from members. Kinds appear once seen.
	Rejected map[string]uint64
}

type counters struct {
	localHits, remoteHits, misses, remoteErrors atomic.Uint64
	localPuts, remotePuts                       atomic.Uint64
	servedGets, servedPuts                      atomic.Uint64
	replicated, repaired, rebalanced, handedOff atomic.Uint64
	copyErrors, copiesDropped, ringChanges      atomic.Uint64
	copiesPending                               atomic.Int64
	webFinds, webFound, webCommits, webDeletes  atomic.Uint64
	webErrors                                   atomic.Uint64
}

// Stats returns a snapshot of the store's counters and gauges.
func (s *Store) Stats() Stats {
	st := Stats{
		MaxBytes:     s.cfg.MaxBytes,
		LocalHits:    s.stats.localHits.Load(),
		RemoteHits:   s.stats.remoteHits.Load(),
		Misses:       s.stats.misses.Load(),
		RemoteErrors: s.stats.remoteErrors.Load(),
		LocalPuts:    s.stats.localPuts.Load(),
		RemotePuts:   s.stats.remotePuts.Load(),
		ServedGets:   s.stats.servedGets.Load(),
		ServedPuts:   s.stats.servedPuts.Load(),
		WebFinds:     s.stats.webFinds.Load(),
		WebFound:     s.stats.webFound.Load(),
		WebCommits:   s.stats.webCommits.Load(),
		WebDeletes:   s.stats.webDeletes.Load(),
		WebErrors:    s.stats.webErrors.Load(),

		Replicated:    s.stats.replicated.Load(),
		Repaired:      s.stats.repaired.Load(),
		Rebalanced:    s.stats.rebalanced.Load(),
		HandedOff:     s.stats.handedOff.Load(),
		CopyErrors:    s.stats.copyErrors.Load(),
		CopiesDropped: s.stats.copiesDropped.Load(),
		CopiesPending: s.stats.copiesPending.Load(),
		RingChanges:   s.stats.ringChanges.Load(),
		PeerLatency:   s.latency.snapshot(),
	}
	v := s.view.Load()
	if v.ring != nil {
		st.RingNodes = v.ring.Len()
		st.RingShare = v.ring.Share(s.self)
	}
	st.CopiesRetrying = s.pending.size()
	st.Rebalancing = v.from.ring != nil || st.CopiesRetrying > 0
	for _, c := range v.clients {
		if c.Connected() {
			st.PeersConnected++
		}
	}
	st.Sessions, st.Bytes, st.Evictions, st.Expirations = s.tls.mem.usage()
	st.WebSessions, st.WebBytes, st.WebEvictions, _ = s.web.mem.usage()
	st.WebMaxBytes = s.cfg.WebMaxBytes
	st.Rejected = s.server.Rejected()
	return st
}
