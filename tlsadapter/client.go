package tlsadapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessionmesh/sessionmesh/internal/wire"
	"github.com/sessionmesh/sessionmesh/store"
)

// ClientStore is what ClientCache needs from the session store.
// *store.Store implements it.
type ClientStore interface {
	Put(ctx context.Context, id string, r store.Record) error
	Get(ctx context.Context, id string) (store.Record, error)
	Delete(ctx context.Context, id string) error
}

// ClientCache is a tls.ClientSessionCache shared by the cluster: the other
// side of the coin. When the members of a cluster are themselves TLS clients
// of some upstream service, a session one member made with the upstream
// resumes from any other member, as the same member's next connection would.
//
// Sessions are stored under a hash of the cache key crypto/tls gives
// (the server name, or the address), with the key itself, so that two keys
// never share a session. A client session holds the upstream's certificate
// chain, so it is a kilobyte or two. Get and Put wait at most LookupTimeout;
// any failure is a miss, and the client does a full handshake.
type ClientCache struct {
	store  ClientStore
	ttl    time.Duration
	lookup time.Duration
	logger *slog.Logger
	now    func() time.Time
}

// ClientCacheConfig configures a ClientCache. The zero value is ready to use.
type ClientCacheConfig struct {
	// SessionTTL is how long a client session is kept. crypto/tls also
	// honors the lifetime the server gave the ticket. At most
	// MaxSessionTTL. Default 24 hours.
	SessionTTL time.Duration

	// LookupTimeout bounds each Get and Put. Default 50ms.
	LookupTimeout time.Duration

	// Logger receives debug records about failed lookups. Default: discard.
	Logger *slog.Logger

	// Now returns the current time; tests move it. Default time.Now.
	Now func() time.Time
}

// NewClientCache returns a ClientCache over st.
func NewClientCache(st ClientStore, cfg ClientCacheConfig) (*ClientCache, error) {
	ttl, lookup, err := storeDefaults(cfg.SessionTTL, cfg.LookupTimeout)
	if err != nil {
		return nil, err
	}
	return &ClientCache{store: st, ttl: ttl, lookup: lookup, logger: orDiscard(cfg.Logger), now: orNow(cfg.Now)}, nil
}

// Get returns the session stored under sessionKey, if any. It fits
// tls.ClientSessionCache.
func (c *ClientCache) Get(sessionKey string) (*tls.ClientSessionState, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), c.lookup)
	defer cancel()
	r, err := c.store.Get(ctx, clientID(sessionKey))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) {
			c.logger.Debug("client session lookup failed", "err", err)
		}
		return nil, false
	}
	if r.ServerName != sessionKey {
		return nil, false
	}
	ticket, stateBytes, err := decodeClientSession(r.Value)
	if err != nil {
		return nil, false
	}
	state, err := tls.ParseSessionState(stateBytes)
	if err != nil {
		return nil, false // another Go version's encoding
	}
	cs, err := tls.NewResumptionState(ticket, state)
	if err != nil {
		return nil, false
	}
	return cs, true
}

// Put stores cs under sessionKey for the cluster, or deletes the entry if
// cs is nil. It fits tls.ClientSessionCache.
func (c *ClientCache) Put(sessionKey string, cs *tls.ClientSessionState) {
	ctx, cancel := context.WithTimeout(context.Background(), c.lookup)
	defer cancel()
	id := clientID(sessionKey)
	if cs == nil {
		if err := c.store.Delete(ctx, id); err != nil {
			c.logger.Debug("client session not deleted", "err", err)
		}
		return
	}
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil {
		return
	}
	stateBytes, err := state.Bytes()
	if err != nil {
		return
	}
	now := c.now()
	r := store.Record{Value: encodeClientSession(ticket, stateBytes), ServerName: sessionKey, Created: now, Expires: now.Add(c.ttl)}
	if err := c.store.Put(ctx, id, r); err != nil {
		c.logger.Debug("client session not stored", "err", err)
	}
}

// clientID is the store ID of a client session: one byte longer than server
// session IDs, so the two can never collide.
func clientID(sessionKey string) string {
	h := sha256.Sum256([]byte("sessionmesh client session\x00" + sessionKey))
	return "c" + string(h[:])
}

// A client session is stored as a msgpack array [ticket, state].
func encodeClientSession(ticket, state []byte) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	_ = enc.EncodeArrayLen(2) // writes to a bytes.Buffer cannot fail
	_ = enc.EncodeBytes(ticket)
	_ = enc.EncodeBytes(state)
	return buf.Bytes()
}

func decodeClientSession(b []byte) (ticket, state []byte, err error) {
	var r wire.Reader
	r.Open(b, 2)
	ticket = r.Bytes(store.MaxValue)
	state = r.Bytes(store.MaxValue)
	return ticket, state, r.Close()
}

// Compile-time check that ClientCache fits crypto/tls.
var _ tls.ClientSessionCache = (*ClientCache)(nil)
