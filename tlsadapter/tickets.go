package tlsadapter

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
)

// TicketKeys seals session states into tickets and opens them again, with
// keys every member shares. *ticketkeys.Rotator implements it.
type TicketKeys interface {
	// Seal encrypts ss into a ticket with the current key.
	Seal(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error)
	// Open decrypts a ticket, or says why it cannot (ticketkeys.ErrUnknownKey,
	// ticketkeys.ErrMalformed).
	Open(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error)
	// Lifetime is how long a ticket stays resumable.
	Lifetime() time.Duration
}

// Tickets is "ticket mode": the whole session state, encrypted with a key
// every member holds, is the ticket. Nothing is stored per session and no
// handshake waits on the network; in exchange, a stolen ticket key exposes
// the sessions its tickets protect (with TLS 1.2, their traffic), which is
// why keys rotate (package ticketkeys).
//
// Plug it into a tls.Config with TLSConfig, or set its WrapSession and
// UnwrapSession methods on one yourself. It is safe for concurrent use.
type Tickets struct {
	keys   TicketKeys
	logger *slog.Logger
	now    func() time.Time
	stats  counters
}

// TicketsConfig configures Tickets. The zero value is ready to use. How long
// a ticket lives is the keys' Lifetime, and nothing is looked up, so there is
// no TTL or timeout to set.
type TicketsConfig struct {
	// Logger receives a warning when a ticket cannot be sealed. It never
	// sees a ticket or key. Default: discard.
	Logger *slog.Logger

	// Now returns the current time; tests move it. Default time.Now.
	Now func() time.Time
}

// NewTickets returns ticket mode over keys.
func NewTickets(keys TicketKeys, cfg TicketsConfig) *Tickets {
	return &Tickets{keys: keys, logger: orDiscard(cfg.Logger), now: orNow(cfg.Now)}
}

// TLSConfig returns a copy of base (which may be nil) whose tickets are
// sealed with the cluster's keys, and whose handshakes Stats counts (its
// VerifyConnection wraps base's). If base has a GetConfigForClient, every
// config it returns is plugged in the same way. base's own WrapSession and
// UnwrapSession, if any, are replaced. Sessions stay off on a config whose
// SessionTicketsDisabled is set.
func (t *Tickets) TLSConfig(base *tls.Config) *tls.Config {
	return plug(base, hooks{wrap: t.WrapSession, unwrap: t.UnwrapSession, stats: &t.stats})
}

// Stats returns a snapshot of the adapter's counters.
func (t *Tickets) Stats() Stats { return t.stats.snapshot() }

// WrapSession seals ss, with the server name and the time it was issued,
// into a ticket. It fits tls.Config.WrapSession, and never fails: without a
// key (a node that has not joined yet) the client gets a random ticket that
// will not resume.
func (t *Tickets) WrapSession(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	t.stats.wrapped.Add(1)
	ss.Extra = append(ss.Extra, scope(t.now(), cs.ServerName))
	ticket, err := t.keys.Seal(cs, ss)
	if err != nil {
		t.stats.wrapErrors.Add(1)
		t.logger.Warn("cannot seal session ticket; the client will do a full handshake next time", "err", err)
		ticket = make([]byte, 64)
		rand.Read(ticket)
	}
	return ticket, nil
}

// UnwrapSession opens a ticket sealed by any member, or returns (nil, nil) —
// a full handshake — if it cannot be resumed here: unknown key, tampered,
// made for another server name, or older than the ticket lifetime. It fits
// tls.Config.UnwrapSession and never returns an error.
func (t *Tickets) UnwrapSession(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	if len(identity) == 0 { // TLS 1.2 asks with an empty identity when the client has no ticket
		return nil, nil
	}
	ss, err := t.keys.Open(identity, cs)
	switch {
	case errors.Is(err, ticketkeys.ErrUnknownKey):
		t.stats.miss(UnknownKey)
		return nil, nil
	case err != nil:
		t.stats.miss(Malformed)
		return nil, nil
	}
	i := slices.IndexFunc(ss.Extra, isScope)
	if i < 0 {
		t.stats.miss(Malformed) // sealed with our key but not by us: not a ticket we issued
		return nil, nil
	}
	issued, serverName := parseScope(ss.Extra[i])
	ss.Extra = slices.Delete(ss.Extra, i, i+1)
	switch {
	case serverName != cs.ServerName:
		t.stats.miss(ServerNameMismatch)
		return nil, nil
	case t.now().Sub(issued) > t.keys.Lifetime():
		t.stats.miss(Expired)
		return nil, nil
	}
	t.stats.found.Add(1)
	return ss, nil
}

// A scope is the element ticket mode adds to SessionState.Extra: a prefix,
// the issue time (Unix seconds) and the server name. crypto/tls carries Extra
// inside the encrypted ticket and ignores it.
var scopePrefix = []byte("sessionmesh/1\x00")

func scope(issued time.Time, serverName string) []byte {
	b := make([]byte, 0, len(scopePrefix)+8+len(serverName))
	b = append(b, scopePrefix...)
	b = binary.BigEndian.AppendUint64(b, uint64(issued.Unix()))
	return append(b, serverName...)
}

func isScope(b []byte) bool { return len(b) >= len(scopePrefix)+8 && bytes.HasPrefix(b, scopePrefix) }

func parseScope(b []byte) (issued time.Time, serverName string) {
	b = b[len(scopePrefix):]
	return time.Unix(int64(binary.BigEndian.Uint64(b)), 0), string(b[8:])
}
