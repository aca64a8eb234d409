// Package scsstore keeps the web sessions of github.com/alexedwards/scs/v2
// in a sessionmesh cluster, in place of scs's redisstore: every member of
// the cluster reads every session, and a session outlives the crash of any
// Replicas−1 members.
//
//	sessions := scs.New()
//	sessions.Store = scsstore.New(member.WebSessions())
//
// The store inherits the cluster's guarantees (see store.WebSessions): a
// Commit returns once Replicas members hold the session, a Find on any
// member right after a Commit on another sees it, and a session deleted by
// Destroy or RenewToken never comes back: not through a copy that missed the
// delete, and not through a request that read the session before the delete
// and writes it back after (its write is dropped). An error from Find means that the
// members who may hold the session did not answer, not that it is gone: scs
// then fails the request (with its ErrorFunc) instead of starting an empty
// session, so a user is never logged out by a cluster that is out of reach.
//
// A value (scs's encoded session data) is at most store.MaxWebValue bytes; a
// Commit over that fails with store.ErrTooLarge.
//
// Store does not implement scs.IterableCtxStore: listing every session of a
// sharded store means fetching every member's whole share of it, which no
// request should set off. To end all of a user's sessions, keep their tokens
// where a request can find them (in a session of its own, keyed by the user).
package scsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/store"
)

// Sessions is what the store needs from the cluster: a
// *store.WebSessions, which sessionmesh's Member.WebSessions returns.
type Sessions interface {
	Find(ctx context.Context, key string) ([]byte, bool, error)
	Commit(ctx context.Context, key string, value []byte, expires time.Time) error
	Delete(ctx context.Context, key string) error
}

// Prefix is the prefix of the keys the sessions are stored under, so that
// they share the cluster with other web sessions (those of gorillastore,
// another scs manager with NewWithPrefix).
const Prefix = "scs:session:"

// maxKey is the longest key the cluster takes.
const maxKey = 255

// Store is an scs.CtxStore over a sessionmesh cluster. It is safe for
// concurrent use.
type Store struct {
	sessions Sessions
	prefix   string
}

// New returns a Store that keeps scs sessions in sessions, under Prefix.
func New(sessions Sessions) *Store { return NewWithPrefix(sessions, Prefix) }

// NewWithPrefix returns a Store whose keys begin with prefix: two session
// managers with different prefixes keep sessions apart in one cluster.
func NewWithPrefix(sessions Sessions, prefix string) *Store {
	if sessions == nil {
		panic("scsstore: New with nil sessions: pass a sessionmesh member's WebSessions()")
	}
	return &Store{sessions: sessions, prefix: prefix}
}

// key returns the cluster key of token, or false if token cannot be one
// (scs passes on whatever the cookie holds: a stranger's garbage finds
// nothing, and costs no request to another member).
func (s *Store) key(token string) (string, bool) {
	if token == "" || len(s.prefix)+len(token) > maxKey {
		return "", false
	}
	return s.prefix + token, true
}

// FindCtx returns the data of the session token, and whether there is one.
// A token that is not one scs makes (43 characters of unpadded base64url:
// 32 random bytes) is no session, found without asking the cluster, so
// strangers' cookies cost nothing.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	key, ok := s.key(token)
	if !ok || !scsToken(token) {
		return nil, false, nil
	}
	return s.sessions.Find(ctx, key)
}

// scsToken reports whether token has the form of scs's tokens.
func scsToken(token string) bool {
	if len(token) != 43 {
		return false
	}
	for i := range len(token) {
		switch c := token[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// CommitCtx stores the data of the session token until expiry. A session
// deleted meanwhile (a logout in another tab, a renewed token) stays
// deleted: the write is dropped, without error (store.ErrDeleted), and the
// next request with this token starts a new session.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	key, ok := s.key(token)
	if !ok {
		return fmt.Errorf("scsstore: a token of %d bytes cannot be stored (at most %d)", len(token), maxKey-len(s.prefix))
	}
	if err := s.sessions.Commit(ctx, key, b, expiry); err != nil && !errors.Is(err, store.ErrDeleted) {
		return err
	}
	return nil
}

// DeleteCtx deletes the session token, for good. Deleting a session that
// does not exist is not an error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	key, ok := s.key(token)
	if !ok {
		return nil
	}
	return s.sessions.Delete(ctx, key)
}

// Find is FindCtx without a context (scs calls FindCtx); the cluster bounds
// the call's time.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a context.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
