package sessionmesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/status"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// Member is this process's place in a sessionmesh cluster: gossip
// membership, and in Cache mode its share of the session store, or in
// Tickets mode its copy of the cluster's ticket keys. It is safe for
// concurrent use.
type Member struct {
	cfg     Config
	started time.Time
	logger  *slog.Logger

	node    *cluster.Node
	store   *store.Store        // Cache mode
	keys    *ticketkeys.Rotator // Tickets mode
	adapter adapter             // plugs sessions into tls.Config
	client  *tlsadapter.ClientCache
	status  *status.Status // samples the counters for Handler

	stopOnce sync.Once
	stopErr  error
}

// adapter is what Cache and Tickets have in common.
type adapter interface {
	TLSConfig(base *tls.Config) *tls.Config
	Stats() tlsadapter.Stats
}

// Start starts a member: it listens for gossip (and in Cache mode for the
// data channel), joins the members in cfg.Join, and returns once it is part
// of their cluster, or a cluster of its own if cfg.Join is empty.
//
// It fails, having stopped whatever it started, if a port is taken, if a
// live member of the cluster already has cfg.Name (the error names that
// member's address), if its gossip socket cannot send to a member of the
// cluster (cluster.ErrOutOfReach: an IPv4 socket and an IPv6 member, say;
// on one host, start every member with LocalConfig), or if no member in cfg.Join
// answers within
// cfg.JoinTimeout or before ctx ends. ctx bounds starting only; call
// Shutdown (or Close) to stop the member.
func Start(ctx context.Context, cfg Config) (m *Member, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	m = &Member{cfg: cfg, started: time.Now(), logger: cfg.Logger}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()

	if m.node, err = cluster.New(cluster.Config{
		Name:          cfg.Name,
		BindAddr:      cfg.BindAddr,
		AdvertiseAddr: cfg.AdvertiseAddr,
		Secret:        cfg.Secret,
		OldSecrets:    cfg.OldSecrets,
		Label:         cfg.Label,
		PeerTLS:       cfg.PeerTLS,
		Logger:        cfg.Logger,
		Timing:        cfg.Timing,
	}); err != nil {
		return m, fmt.Errorf("sessionmesh: %w", err)
	}
	m.logger = cfg.Logger.With("node", m.node.Name())

	if cfg.Mode == Tickets || cfg.ShareTicketKeys {
		// Before joining, so that the join brings the cluster's keys.
		if m.keys, err = ticketkeys.New(m.node, ticketkeys.Config{
			Rotation: cfg.TicketRotation,
			Staging:  min(time.Minute, cfg.TicketRotation/4),
			Lifetime: cfg.TicketLifetime,
			Logger:   m.logger,
		}); err != nil {
			return m, fmt.Errorf("sessionmesh: %w", err)
		}
	}
	switch cfg.Mode {
	case Cache:
		if m.store, err = store.New(m.node, store.Config{
			Addr:        cfg.DataAddr,
			TLS:         m.node.PeerTLS(),
			MaxBytes:    cfg.MaxBytes,
			WebMaxBytes: cfg.WebMaxBytes,
			Replicas:    cfg.Replicas,
			Logger:      m.logger,
		}); err != nil {
			return m, fmt.Errorf("sessionmesh: data channel on %s: %w", cfg.DataAddr, err)
		}
		cache, err := tlsadapter.NewCache(m.store, tlsadapter.CacheConfig{
			SessionTTL: cfg.SessionTTL, LookupTimeout: cfg.LookupTimeout, Logger: m.logger,
		})
		if err != nil {
			return m, fmt.Errorf("sessionmesh: %w", err)
		}
		m.adapter = cache
		if m.client, err = tlsadapter.NewClientCache(m.store, tlsadapter.ClientCacheConfig{
			SessionTTL: cfg.SessionTTL, LookupTimeout: cfg.LookupTimeout, Logger: m.logger,
		}); err != nil {
			return m, fmt.Errorf("sessionmesh: %w", err)
		}
	case Tickets:
		m.adapter = tlsadapter.NewTickets(m.keys, tlsadapter.TicketsConfig{Logger: m.logger})
	}

	jctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	defer cancel()
	if len(cfg.Join) > 0 {
		if err := m.node.Join(jctx, cfg.Join...); err != nil {
			return m, fmt.Errorf("sessionmesh: %w", err)
		}
	}
	if err := m.ready(jctx); err != nil {
		return m, fmt.Errorf("sessionmesh: %w", err)
	}
	m.status = status.New(status.Source{
		Name: m.node.Name(), Mode: cfg.Mode.String(), Started: m.started,
		Cluster: m.node, Store: m.store, Adapter: m.adapter, Keys: m.keys, Logger: m.logger,
	})
	m.logger.Info("sessionmesh member started", "mode", cfg.Mode, "gossip", m.GossipAddr(), "data", m.DataAddr())
	return m, nil
}

// ready waits until the member can share sessions: in Cache mode, until its
// store has a ring with every member it knows of (the join brought them all);
// in Tickets mode (or with ShareTicketKeys), until a key encrypts. Both take
// a moment after the join, which a handshake arriving right after Start
// should not pay for.
func (m *Member) ready(ctx context.Context) error {
	if m.keys != nil {
		if err := m.keys.Ready(ctx); err != nil || m.store == nil {
			return err
		}
	}
	for {
		want := 0
		for _, mb := range m.node.Members() {
			if mb.DataAddr != "" {
				want++
			}
		}
		if n := m.store.Stats().RingNodes; n > 0 && n >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the session store has no ring yet: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Name returns the member's name, unique in its cluster.
func (m *Member) Name() string { return m.node.Name() }

// GossipAddr returns the host:port other members gossip with this one at:
// what a new member puts in Config.Join.
func (m *Member) GossipAddr() string { return m.node.Addr() }

// DataAddr returns the address other members reach the data channel at, as
// the member advertises it (the gossip address's host, when it listens on
// all interfaces), or "" in Tickets mode, which has none.
func (m *Member) DataAddr() string {
	if m.store == nil {
		return ""
	}
	for _, mb := range m.node.Members() {
		if mb.Local && mb.DataAddr != "" {
			return mb.DataAddr
		}
	}
	return m.store.Addr()
}

// Mode returns how the member shares sessions.
func (m *Member) Mode() Mode { return m.cfg.Mode }

// TLSConfig returns a copy of base (which may be nil) whose TLS sessions are
// shared with the cluster: a session made on any member resumes on every
// other. If base picks its config per client (GetConfigForClient), each
// config it returns shares sessions too. Every handshake on these configs is
// counted in the member's status and metrics (Handler). Use it for every TLS
// server of the process. It sets WrapSession and UnwrapSession, replacing
// base's own, and wraps base's VerifyConnection; sessions stay off on a
// config whose SessionTicketsDisabled is set.
//
// A session resumes only for the server name (SNI) it was made for, so one
// virtual host can never resume another's sessions.
func (m *Member) TLSConfig(base *tls.Config) *tls.Config { return m.adapter.TLSConfig(base) }

// ClientSessionCache returns a tls.ClientSessionCache kept in the cluster,
// for members that are themselves TLS clients of some upstream: a session
// one member made with the upstream resumes from any other. Cache mode only;
// nil in Tickets mode, which keeps no store.
func (m *Member) ClientSessionCache() tls.ClientSessionCache {
	if m.client == nil {
		return nil
	}
	return m.client
}

// Node returns the member's gossip membership, for those who need the lower
// layers (package cluster).
func (m *Member) Node() *cluster.Node { return m.node }

// Store returns the member's share of the session store (package store), or
// nil in Tickets mode.
func (m *Member) Store() *store.Store { return m.store }

// WebSessions returns the cluster's web sessions (package store), for the
// session store adapters: scsstore.New(m.WebSessions()) for scs,
// gorillastore.New(m.WebSessions(), hashKey) for gorilla/sessions. In
// Tickets mode there is no store, and every call on it fails saying so.
func (m *Member) WebSessions() *store.WebSessions {
	if m.store == nil {
		return nil
	}
	return m.store.WebSessions()
}

// TicketKeys returns the member's copy of the cluster's ticket keys (package
// ticketkeys), or nil in Cache mode without Config.ShareTicketKeys.
func (m *Member) TicketKeys() *ticketkeys.Rotator { return m.keys }

// Shutdown stops the member without losing what it holds, in this order:
// the store withdraws from the ring and hands every session it holds to the
// members that take its place; the ticket keys stop; the member tells the
// cluster it leaves, so nobody waits to detect a failure; then everything
// closes. Stop your TLS servers first (http.Server.Shutdown), so that no
// handshake arrives meanwhile.
//
// ctx bounds the handover and the goodbye. Give it a context that is not
// already done: at shutdown, the one from signal.NotifyContext is, and a
// done context hands nothing over. Use context.WithoutCancel(ctx) with a
// timeout of a few seconds:
//
//	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
//	defer cancel()
//	err := m.Shutdown(ctx)
//
// The error says what could not be done, such as how many sessions were
// handed over before ctx ended. Shutdown, and Close after it, are safe to
// call twice.
func (m *Member) Shutdown(ctx context.Context) error {
	var errs []error
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("sessionmesh: shutdown with a context already done (%w): nothing was handed over; "+
			"pass context.WithoutCancel(ctx) with a timeout", err))
	}
	m.stopOnce.Do(func() {
		if m.store != nil && ctx.Err() == nil {
			if err := m.store.Leave(ctx); err != nil {
				errs = append(errs, fmt.Errorf("sessionmesh: %w", err))
			}
		}
		if m.keys != nil {
			m.keys.Close()
		}
		if ctx.Err() == nil {
			if err := m.node.Leave(ctx); err != nil {
				errs = append(errs, fmt.Errorf("sessionmesh: %w", err))
			}
		}
		m.stopErr = m.close()
	})
	if m.stopErr != nil {
		errs = append(errs, m.stopErr)
	}
	return errors.Join(errs...)
}

// Close stops the member at once: no handover and no goodbye, so the
// others notice its silence as a crash, a few seconds later, and keep only
// the sessions they hold copies of. Use Shutdown to stop gracefully. Close
// stops and waits for every goroutine of the member and is safe to call
// twice, and after Shutdown.
func (m *Member) Close() error {
	m.stopOnce.Do(func() { m.stopErr = m.close() })
	return m.stopErr
}

// close closes every part that started, upper layers first.
func (m *Member) close() error {
	var errs []error
	if m.status != nil {
		errs = append(errs, m.status.Close())
	}
	if m.keys != nil {
		errs = append(errs, m.keys.Close())
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	if m.node != nil {
		errs = append(errs, m.node.Close())
	}
	return errors.Join(errs...)
}
