package main

import (
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

// statusSource is what a node's /status reports on: the node's parts and
// the history of its counters.
type statusSource struct {
	name    string
	mode    resumption
	started time.Time
	cluster *cluster.Node
	store   *store.Store
	adapter metrics.Adapter
	keys    *ticketkeys.Rotator // ticket mode only
	history *history
	now     func() time.Time
}

// sample takes a sample of the node's counters now.
func (s *statusSource) sample() sample {
	return sample{at: s.now(), adapter: s.adapter.Stats(), latency: s.store.Stats().PeerLatency}
}

// report gathers what /status says, from snapshots taken now.
func (s *statusSource) report() statusReport {
	now := s.sample()
	cs, ss := s.cluster.Stats(), s.store.Stats()
	w := between(s.history.since(now.at.Add(-historyWindow)), now)

	r := statusReport{
		Node:          s.name,
		Mode:          string(s.mode),
		Time:          now.at,
		Started:       s.started,
		UptimeSeconds: now.at.Sub(s.started).Seconds(),
		Cluster:       clusterStatus{Alive: cs.Members - cs.Suspect, Suspect: cs.Suspect, Dead: cs.Dead, Health: cs.Health},
		Ring: ringStatus{
			Nodes: ss.RingNodes, Share: ss.RingShare, PeersConnected: ss.PeersConnected,
			Rebalancing: ss.Rebalancing, Changes: ss.RingChanges,
		},
		Sessions:   sessionStatus{Held: ss.Sessions, Bytes: ss.Bytes, MaxBytes: ss.MaxBytes},
		LastMinute: windowReport(w),
		Counters:   rawCounters(now.adapter, ss),
	}
	if ss.RingNodes > 0 {
		r.Ring.FairShare = 1 / float64(ss.RingNodes)
	}
	for _, m := range s.cluster.Members() {
		state := "alive"
		if m.Suspect {
			state = "suspect"
		}
		r.Members = append(r.Members, memberStatus{
			Name: m.Name, State: state, Self: m.Local, RTTSeconds: m.RTT.Seconds(),
			GossipAddr: m.Addr, DataAddr: m.DataAddr, Started: m.Started,
		})
	}
	if s.keys != nil {
		for _, k := range s.keys.Keys() {
			ks := keyStatus{
				ID: fmt.Sprintf("%016x", k.ID), State: k.State.String(),
				Created: k.Created, Activate: k.Activate, AgeSeconds: now.at.Sub(k.Created).Seconds(),
			}
			if !k.Expire.IsZero() {
				ks.Expire = &k.Expire
			}
			r.TicketKeys = append(r.TicketKeys, ks)
		}
		generated := s.keys.Generated()
		r.Counters.TicketKeysGenerated = &generated
	}
	return r
}

func windowReport(w window) windowStatus {
	ws := windowStatus{
		Seconds:    w.to.Sub(w.from).Seconds(),
		Handshakes: w.resumed + w.full,
		Resumed:    w.resumed,
		Full:       w.full,
		Misses:     make(map[string]uint64),
		PeerLatency: latencyStatus{
			Lookups: w.latency.Count(),
		},
	}
	if ws.Handshakes > 0 {
		rate := float64(w.resumed) / float64(ws.Handshakes)
		ws.ResumptionRate = &rate
	}
	for r, n := range w.misses {
		ws.Misses[r.String()] = n
	}
	if n := w.latency.Count(); n > 0 {
		ws.PeerLatency.MeanSeconds = w.latency.Sum.Seconds() / float64(n)
		p50, _ := quantile(w.latency, 0.5)
		p99, _ := quantile(w.latency, 0.99)
		ws.PeerLatency.P50Seconds, ws.PeerLatency.P99Seconds = p50.Seconds(), p99.Seconds()
	}
	for _, iv := range w.intervals {
		ws.Intervals = append(ws.Intervals, intervalStatus{
			From: iv.from, Seconds: iv.to.Sub(iv.from).Seconds(), Resumed: iv.resumed, Full: iv.full,
		})
	}
	return ws
}

func rawCounters(a tlsadapter.Stats, s store.Stats) countersStatus {
	c := countersStatus{
		ResumptionHits:    a.Found,
		ResumptionMisses:  make(map[string]uint64),
		TicketsIssued:     a.Issued,
		TicketIssueErrors: a.IssueErrors,
		Store: storeCounters{
			Sessions: s.Sessions, Bytes: s.Bytes, MaxBytes: s.MaxBytes,
			Evictions: s.Evictions, Expirations: s.Expirations,
			LocalHits: s.LocalHits, RemoteHits: s.RemoteHits, Misses: s.Misses, RemoteErrors: s.RemoteErrors,
			LocalPuts: s.LocalPuts, RemotePuts: s.RemotePuts, ServedGets: s.ServedGets, ServedPuts: s.ServedPuts,
			Replicated: s.Replicated, Repaired: s.Repaired, Rebalanced: s.Rebalanced, HandedOff: s.HandedOff,
			CopyErrors: s.CopyErrors, CopiesDropped: s.CopiesDropped, CopiesPending: s.CopiesPending,
			PeerLatency: histogramStatus{Counts: s.PeerLatency.Counts, SumSeconds: s.PeerLatency.Sum.Seconds()},
			RingNodes:   s.RingNodes, PeersConnected: s.PeersConnected, RingShare: s.RingShare,
			RingChanges: s.RingChanges, Rebalancing: s.Rebalancing,
		},
	}
	for _, v := range tlsadapter.Versions() {
		c.Handshakes = append(c.Handshakes, versionCount{
			Version: metrics.VersionLabel(v), Resumed: a.Handshakes(true, v), Full: a.Handshakes(false, v),
		})
	}
	for _, r := range tlsadapter.Reasons() {
		c.ResumptionMisses[r.String()] = a.Missed(r)
	}
	for _, b := range s.PeerLatency.Bounds {
		c.Store.PeerLatency.BoundsSeconds = append(c.Store.PeerLatency.BoundsSeconds, b.Seconds())
	}
	return c
}
