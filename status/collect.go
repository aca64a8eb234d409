package status

import (
	"fmt"

	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

// Report gathers the facts about the member from snapshots of its parts
// taken now, and its last minute from the samples.
func (s *Status) Report() Report {
	now := s.sample()
	cs := s.src.Cluster.Stats()
	w := between(s.history.since(now.at.Add(-historyWindow)), now)

	r := Report{
		Node:          s.src.Name,
		Mode:          s.src.Mode,
		Time:          now.at,
		Started:       s.src.Started,
		UptimeSeconds: now.at.Sub(s.src.Started).Seconds(),
		Cluster:       ClusterSummary{Alive: cs.Members - cs.Suspect, Suspect: cs.Suspect, Dead: cs.Dead, Health: cs.Health},
		LastMinute:    lastMinute(w, s.src.Store != nil),
		Counters:      rawCounters(now.adapter),
	}
	if s.src.Store != nil {
		ss := s.src.Store.Stats()
		r.Ring = &Ring{
			Nodes: ss.RingNodes, Share: ss.RingShare, PeersConnected: ss.PeersConnected,
			Rebalancing: ss.Rebalancing, Changes: ss.RingChanges,
		}
		if ss.RingNodes > 0 {
			r.Ring.FairShare = 1 / float64(ss.RingNodes)
		}
		r.Sessions = &Sessions{
			Held: ss.Sessions, Bytes: ss.Bytes, MaxBytes: ss.MaxBytes,
			WebHeld: ss.WebSessions, WebBytes: ss.WebBytes, WebMaxBytes: ss.WebMaxBytes,
		}
		r.Counters.Store = storeCounters(ss)
	}
	for _, m := range s.src.Cluster.Members() {
		state := "alive"
		if m.Suspect {
			state = "suspect"
		}
		r.Members = append(r.Members, Member{
			Name: m.Name, State: state, Self: m.Local, RTTSeconds: m.RTT.Seconds(),
			GossipAddr: m.Addr, DataAddr: m.DataAddr, Started: m.Started,
		})
	}
	if s.src.Keys != nil {
		for _, k := range s.src.Keys.Keys() {
			tk := TicketKey{
				ID: fmt.Sprintf("%016x", k.ID), State: k.State.String(),
				Created: k.Created, Activate: k.Activate, AgeSeconds: now.at.Sub(k.Created).Seconds(),
			}
			if !k.Expire.IsZero() {
				tk.Expire = &k.Expire
			}
			r.TicketKeys = append(r.TicketKeys, tk)
		}
		generated := s.src.Keys.Generated()
		r.Counters.TicketKeysGenerated = &generated
	}
	return r
}

// lastMinute reports w; the peer latency only for a member with a store.
func lastMinute(w window, withStore bool) LastMinute {
	lm := LastMinute{
		Seconds:    w.to.Sub(w.from).Seconds(),
		Handshakes: w.resumed + w.full,
		Resumed:    w.resumed,
		Full:       w.full,
		Misses:     make(map[string]uint64),
	}
	if lm.Handshakes > 0 {
		rate := float64(w.resumed) / float64(lm.Handshakes)
		lm.ResumptionRate = &rate
	}
	for r, n := range w.misses {
		lm.Misses[r.String()] = n
	}
	if withStore {
		lm.PeerLatency = &PeerLatency{Lookups: w.latency.Count()}
		if n := w.latency.Count(); n > 0 {
			lm.PeerLatency.MeanSeconds = w.latency.Sum.Seconds() / float64(n)
			p50, _ := quantile(w.latency, 0.5)
			p99, _ := quantile(w.latency, 0.99)
			lm.PeerLatency.P50Seconds, lm.PeerLatency.P99Seconds = p50.Seconds(), p99.Seconds()
		}
	}
	for _, iv := range w.intervals {
		lm.Intervals = append(lm.Intervals, Interval{
			From: iv.from, Seconds: iv.to.Sub(iv.from).Seconds(), Resumed: iv.resumed, Full: iv.full,
		})
	}
	return lm
}

// rawCounters reports the adapter's counters.
func rawCounters(a tlsadapter.Stats) Counters {
	c := Counters{
		ResumptionHits:    a.Found,
		ResumptionMisses:  make(map[string]uint64),
		TicketsIssued:     a.Issued,
		TicketIssueErrors: a.IssueErrors,
	}
	for _, v := range tlsadapter.Versions() {
		c.Handshakes = append(c.Handshakes, VersionCount{
			Version: metrics.VersionLabel(v), Resumed: a.Handshakes(true, v), Full: a.Handshakes(false, v),
		})
	}
	for _, r := range tlsadapter.Reasons() {
		c.ResumptionMisses[r.String()] = a.Missed(r)
	}
	return c
}

// storeCounters reports the store's counters, field for field.
func storeCounters(s store.Stats) *StoreCounters {
	c := &StoreCounters{
		Sessions: s.Sessions, Bytes: s.Bytes, MaxBytes: s.MaxBytes,
		Evictions: s.Evictions, Expirations: s.Expirations,
		LocalHits: s.LocalHits, RemoteHits: s.RemoteHits, Misses: s.Misses, RemoteErrors: s.RemoteErrors,
		LocalPuts: s.LocalPuts, RemotePuts: s.RemotePuts, ServedGets: s.ServedGets, ServedPuts: s.ServedPuts,
		Replicated: s.Replicated, Repaired: s.Repaired, Rebalanced: s.Rebalanced, HandedOff: s.HandedOff,
		CopyErrors: s.CopyErrors, CopiesDropped: s.CopiesDropped, CopiesPending: s.CopiesPending,
		PeerLatency: Histogram{Counts: s.PeerLatency.Counts, SumSeconds: s.PeerLatency.Sum.Seconds()},
		RingNodes:   s.RingNodes, PeersConnected: s.PeersConnected, RingShare: s.RingShare,
		RingChanges: s.RingChanges, Rebalancing: s.Rebalancing,
		WebSessions: s.WebSessions, WebBytes: s.WebBytes, WebMaxBytes: s.WebMaxBytes, WebEvictions: s.WebEvictions,
		WebFinds: s.WebFinds, WebFound: s.WebFound, WebCommits: s.WebCommits, WebDeletes: s.WebDeletes, WebErrors: s.WebErrors,
	}
	for _, b := range s.PeerLatency.Bounds {
		c.PeerLatency.BoundsSeconds = append(c.PeerLatency.BoundsSeconds, b.Seconds())
	}
	return c
}
