package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
	"github.com/sessionmesh/sessionmesh/tlsadapter/metrics"
)

// resumption is how the nodes share TLS sessions: the -resumption flag. This
// file is the one place that knows the modes: parseResumption says which
// exist and share builds each.
type resumption string

const (
	// cacheMode keeps session states in the cluster's store; the client's
	// ticket is only a random handle (tlsadapter.Cache).
	cacheMode resumption = "cache"
	// ticketMode encrypts the state into the ticket with keys every node
	// shares and rotates every -ticket-rotation (tlsadapter.Tickets).
	ticketMode resumption = "tickets"
	// offMode turns session tickets off: every handshake is a full one, as
	// with SSL_OP_NO_TICKET. For comparison.
	offMode resumption = "off"
)

// parseResumption returns the mode named s.
func parseResumption(s string) (resumption, error) {
	switch r := resumption(s); r {
	case cacheMode, ticketMode, offMode:
		return r, nil
	}
	return "", fmt.Errorf("-resumption %q: want cache, tickets or off", s)
}

// sessionDeps is what a mode may build on.
type sessionDeps struct {
	cluster *cluster.Node
	store   *store.Store
	opts    modeOptions
	logger  *slog.Logger
}

// sharing is a mode at work on one node.
type sharing struct {
	tls     *tls.Config         // the server's config
	keys    *ticketkeys.Rotator // ticket mode's keys; nil in the other modes
	adapter metrics.Adapter     // its counters: handshakes on tls and, but in off mode, the tickets clients offered
}

// share returns a copy of base whose sessions are shared in mode m. In ticket
// mode it starts the node's ticket key rotation, which must happen before the
// node joins, so that the join brings the cluster's keys.
func (m resumption) share(base *tls.Config, d sessionDeps) (sharing, error) {
	switch m {
	case cacheMode:
		cache, err := tlsadapter.NewCache(d.store, tlsadapter.CacheConfig{Logger: d.logger})
		if err != nil {
			return sharing{}, err
		}
		return sharing{tls: cache.TLSConfig(base), adapter: cache}, nil
	case ticketMode:
		keys, err := ticketkeys.New(d.cluster, ticketkeys.Config{
			Rotation: d.opts.rotation,
			// A new key encrypts once every node holds it and this has
			// passed; short rotations (to watch them) need short staging.
			Staging: min(time.Minute, d.opts.rotation/4),
			// Tickets live a day, or 24 rotations when rotations are
			// short: a key is kept until its last ticket expires.
			Lifetime: min(24*time.Hour, 24*d.opts.rotation),
			Logger:   d.logger,
		})
		if err != nil {
			return sharing{}, err
		}
		tickets := tlsadapter.NewTickets(keys, tlsadapter.TicketsConfig{Logger: d.logger})
		return sharing{tls: tickets.TLSConfig(base), keys: keys, adapter: tickets}, nil
	case offMode:
		// The cache only counts handshakes here: with tickets disabled,
		// crypto/tls never calls its session hooks.
		cache, err := tlsadapter.NewCache(d.store, tlsadapter.CacheConfig{Logger: d.logger})
		if err != nil {
			return sharing{}, err
		}
		cfg := base.Clone()
		cfg.SessionTicketsDisabled = true
		return sharing{tls: cache.TLSConfig(cfg), adapter: cache}, nil
	}
	return sharing{}, fmt.Errorf("unknown resumption mode %q", m)
}

// activeKey returns the ID of the ticket key s encrypts with, or "" (none
// yet, or not ticket mode).
func (s sharing) activeKey() string {
	if s.keys == nil {
		return ""
	}
	for _, k := range s.keys.Keys() {
		if k.State == ticketkeys.Active {
			return fmt.Sprintf("%016x", k.ID)
		}
	}
	return ""
}
