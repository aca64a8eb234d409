package store

import "sync/atomic"

// Stats is a snapshot of a store's counters and gauges.
type Stats struct {
	Sessions    int   // records held locally
	Bytes       int64 // memory they cost (see shard.Cost)
	MaxBytes    int64 // the budget
	Evictions   uint64
	Expirations uint64

	LocalHits    uint64 // Gets answered from local memory
	RemoteHits   uint64 // Gets answered by another member
	Misses       uint64 // Gets that found nothing
	RemoteErrors uint64 // Gets that could not reach the owner in time
	LocalPuts    uint64
	RemotePuts   uint64
	ServedGets   uint64 // peer Gets this node answered with a record
	ServedPuts   uint64 // peer Puts this node stored

	RingNodes int // members on the ring, this one included
}

type counters struct {
	localHits, remoteHits, misses, remoteErrors atomic.Uint64
	localPuts, remotePuts                       atomic.Uint64
	servedGets, servedPuts                      atomic.Uint64
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
	}
	if r := s.view.Load().ring; r != nil {
		st.RingNodes = r.Len()
	}
	s.mu.Lock()
	st.Sessions, st.Bytes = s.local.Len(), s.local.Bytes()
	st.Evictions, st.Expirations = s.local.Evictions, s.local.Expirations
	s.mu.Unlock()
	return st
}
