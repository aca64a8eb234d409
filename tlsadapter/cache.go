package tlsadapter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionmesh/sessionmesh/store"
)

// Store is what Cache needs from the session store. *store.Store implements it.
type Store interface {
	// NewID returns a fresh random ID that a Put stores without waiting on the network.
	NewID() string
	// Put stores a record under id.
	Put(ctx context.Context, id string, r store.Record) error
	// Get returns the record under id, store.ErrNotFound, or
	// store.ErrExpired for one that outlived its expiry.
	Get(ctx context.Context, id string) (store.Record, error)
}

// MaxSessionTTL is the longest SessionTTL: crypto/tls never resumes a session
// older than 7 days.
const MaxSessionTTL = 7 * 24 * time.Hour

// CacheConfig configures a Cache. The zero value is ready to use.
type CacheConfig struct {
	// SessionTTL is how long a ticket stays resumable after it is issued.
	// Every resumption issues a new ticket, but crypto/tls refuses to
	// resume a session whose keys are older than 7 days however often it was
	// renewed. At most MaxSessionTTL. Default 24 hours.
	SessionTTL time.Duration

	// LookupTimeout bounds how long UnwrapSession waits for another member
	// to return a session, per ticket the client offers (a TLS 1.3 client
	// may offer several, a Go client one). A peer fetch takes tens of
	// microseconds; the bound matters only when a member is in trouble, and
	// then that member is skipped without waiting for a while. Default 50ms.
	LookupTimeout time.Duration

	// Logger receives debug records about misses and errors. It never sees a
	// session ID or secret. Default: discard.
	Logger *slog.Logger

	// Now returns the current time; tests move it. Default time.Now.
	Now func() time.Time
}

// Cache keeps TLS sessions in a Store shared by the cluster: "cache mode".
// The ticket a client receives is only a random 32-byte handle; the session
// state stays on the servers, so any member can resume it, a session can be
// revoked by deleting it, and no long-lived key exists whose theft would
// expose past traffic.
//
// Plug it into a tls.Config with TLSConfig, or set its WrapSession and
// UnwrapSession methods on one yourself. A Cache is safe for concurrent use.
type Cache struct {
	store  Store
	ttl    time.Duration
	lookup time.Duration
	logger *slog.Logger
	now    func() time.Time
	stats  counters
	warned throttle // failedWrap's lines
}

// NewCache returns a Cache that keeps sessions in st.
func NewCache(st Store, cfg CacheConfig) (*Cache, error) {
	ttl, lookup, err := storeDefaults(cfg.SessionTTL, cfg.LookupTimeout)
	if err != nil {
		return nil, err
	}
	return &Cache{store: st, ttl: ttl, lookup: lookup, logger: orDiscard(cfg.Logger), now: orNow(cfg.Now)}, nil
}

// storeDefaults fills in the zero durations of an adapter that keeps
// sessions in a store, and checks the others.
func storeDefaults(ttl, lookup time.Duration) (time.Duration, time.Duration, error) {
	if ttl > MaxSessionTTL {
		return 0, 0, fmt.Errorf("tlsadapter: SessionTTL %v exceeds %v, the most crypto/tls resumes", ttl, MaxSessionTTL)
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if lookup <= 0 {
		lookup = 50 * time.Millisecond
	}
	return ttl, lookup, nil
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func orNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// TLSConfig returns a copy of base (which may be nil) whose sessions are kept
// in the cache, and whose handshakes Stats counts (its VerifyConnection
// wraps base's). If base has a GetConfigForClient, every config it returns
// is plugged in the same way. base's own WrapSession and UnwrapSession, if
// any, are replaced. Sessions stay off on a config whose
// SessionTicketsDisabled is set.
func (c *Cache) TLSConfig(base *tls.Config) *tls.Config {
	return plug(base, hooks{wrap: c.WrapSession, unwrap: c.UnwrapSession, stats: &c.stats})
}

// WrapSession stores ss in the cluster under a fresh random ID and returns
// the ID as the ticket. It fits tls.Config.WrapSession.
//
// crypto/tls ends the connection if WrapSession fails, so it does not: if the
// session cannot be stored, the client still gets a well-formed ticket, which
// will simply not resume.
func (c *Cache) WrapSession(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	id := c.store.NewID()
	c.stats.wrapped.Add(1)
	if len(cs.ServerName) > store.MaxServerName {
		// Longer than a DNS name can be: the client's doing, and the store
		// would refuse it. Counted, and kept out of failedWrap's line, which
		// is for the server's own trouble (a store out of reach).
		c.stats.wrapErrors.Add(1)
		c.logger.Debug("session not stored: the client's server name is longer than a DNS name", "bytes", len(cs.ServerName))
		return []byte(id), nil
	}
	value, err := ss.Bytes()
	if err != nil {
		c.failedWrap("cannot serialize session", err)
		return []byte(id), nil
	}
	now := c.now()
	// A client that resumed has come back: its session outlasts those of
	// clients that never did when memory runs short (a flood of full
	// handshakes from strangers cannot push it out).
	r := store.Record{Value: value, ServerName: cs.ServerName, Created: now, Expires: now.Add(c.ttl), Returning: cs.DidResume}
	ctx, cancel := context.WithTimeout(context.Background(), c.lookup)
	defer cancel()
	if err := c.store.Put(ctx, id, r); err != nil {
		c.failedWrap("cannot store session", err)
	}
	return []byte(id), nil
}

func (c *Cache) failedWrap(msg string, err error) {
	c.stats.wrapErrors.Add(1)
	write, skipped := c.warned.admit(c.now())
	if !write {
		return
	}
	args := []any{"err", err}
	if skipped > 0 {
		args = append(args, "similar_lines_left_out", skipped)
	}
	c.logger.Warn(msg+"; the client will do a full handshake next time", args...)
}

// warnEvery is how often failedWrap writes a line. A store out of reach
// fails every handshake's session, so the first failure is written at once
// and then at most one a warnEvery, saying how many were left out since;
// Stats counts every one (IssueErrors).
const warnEvery = time.Minute

// throttle lets a line through at most once a warnEvery.
type throttle struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// admit reports whether a line may be written at now, and how many were
// left out since the last one written.
func (t *throttle) admit(now time.Time) (write bool, skipped int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < warnEvery {
		t.skipped++
		return false, 0
	}
	skipped, t.last, t.skipped = t.skipped, now, 0
	return true, skipped
}

// UnwrapSession returns the session stored under the ticket identity, or
// (nil, nil) — a full handshake — if there is none that may be resumed here.
// It fits tls.Config.UnwrapSession.
//
// It never returns an error: crypto/tls would end the client's connection.
// An identity of the wrong length never reaches the network; a lookup waits at
// most LookupTimeout; a session made for another server name (SNI) is never
// resumed, so one virtual host cannot resume another's sessions.
func (c *Cache) UnwrapSession(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	if len(identity) != store.IDLen {
		if len(identity) > 0 { // TLS 1.2 asks with an empty identity when the client has no ticket
			c.stats.miss(Malformed)
		}
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.lookup)
	defer cancel()
	r, err := c.store.Get(ctx, string(identity))
	if err != nil {
		c.stats.miss(reasonOf(err))
		c.logger.Debug("session not resumed", "reason", reasonOf(err), "err", err)
		return nil, nil
	}
	if r.ServerName != cs.ServerName {
		c.stats.miss(ServerNameMismatch)
		c.logger.Debug("session not resumed: made for another server name", "server_name", cs.ServerName)
		return nil, nil
	}
	if !r.Expires.After(c.now()) {
		c.stats.miss(Expired)
		return nil, nil
	}
	ss, err := tls.ParseSessionState(r.Value)
	if err != nil {
		// Most likely made by a node on another Go version.
		c.stats.miss(Undecodable)
		c.logger.Debug("session not resumed: cannot parse state", "err", err)
		return nil, nil
	}
	c.stats.found.Add(1)
	return ss, nil
}

// reasonOf classifies a store error as a miss reason.
func reasonOf(err error) MissReason {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return NotFound
	case errors.Is(err, store.ErrExpired):
		return Expired
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, store.ErrCorrupt):
		return Undecodable
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed):
		return Unreachable
	}
	var perr interface{ Timeout() bool }
	if errors.As(err, &perr) && perr.Timeout() {
		return Timeout
	}
	return Unreachable
}
