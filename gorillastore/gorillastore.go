// Package gorillastore keeps the sessions of github.com/gorilla/sessions in
// a sessionmesh cluster, server-side, in place of a Redis store: the cookie
// holds only the session's ID, signed (and encrypted, given a block key);
// its values live in the cluster, where every member reads them and they
// outlive the crash of any Replicas−1 members.
//
//	sessions := gorillastore.New(member.WebSessions(), hashKey)
//	session, err := sessions.Get(r, "session")
//
// The store inherits the cluster's guarantees (see store.WebSessions): Save
// returns once Replicas members hold the session, a Get on any member right
// after a Save on another sees it, and a session deleted (saved with
// Options.MaxAge −1) never comes back; at login, RenewID moves the session to
// a new ID and deletes the old one (against session fixation), as scs's
// RenewToken does. When the members that may hold a
// session do not answer, Get returns a new session and the error, as every
// gorilla store does for a session it cannot load: a handler that ignores
// the error starts the user afresh, one that checks it can answer 503.
//
// Values are encoded with encoding/gob, as by gorilla's own stores: register
// the types you keep in them (gob.Register). Encoded, they are at most
// store.MaxWebValue bytes; a Save over that fails with store.ErrTooLarge.
package gorillastore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/sessionmesh/sessionmesh/store"
)

// Sessions is what the store needs from the cluster: a
// *store.WebSessions, which sessionmesh's Member.WebSessions returns.
type Sessions interface {
	Find(ctx context.Context, key string) ([]byte, bool, error)
	Commit(ctx context.Context, key string, value []byte, expires time.Time) error
	Delete(ctx context.Context, key string) error
}

// Prefix is the prefix of the keys the sessions are stored under, apart from
// other web sessions in the cluster (those of scsstore).
const Prefix = "gorilla:session:"

// browserLifetime is how long the cluster keeps a session whose cookie ends
// with the browser (MaxAge 0) after its last Save: the server cannot know
// when the browser closes.
const browserLifetime = 24 * time.Hour

// Store is a sessions.Store over a sessionmesh cluster. It is safe for
// concurrent use; change Options only before it is.
type Store struct {
	// Codecs sign (and, with block keys, encrypt) the session ID in the
	// cookie; a cookie none of them verifies is a new session.
	Codecs []securecookie.Codec
	// Options are the new sessions' cookie options. The defaults: Path "/",
	// MaxAge 30 days, HttpOnly, Secure, SameSite Lax.
	Options *sessions.Options

	web Sessions
}

// New returns a Store that keeps sessions in web. keyPairs are
// securecookie's: a hash key to sign the session ID (32 or 64 random bytes)
// and optionally a block key to encrypt it (16, 24 or 32 bytes), then older
// pairs, still accepted, while keys rotate. Give every member the same
// keys, and keep them secret: whoever has the hash key can sign any ID.
//
// New panics, as a program that would hand out forgeable cookies should not
// start, if web is nil, if there is no hash key or one shorter than 32
// bytes, or if a block key is not 16, 24 or 32 bytes long.
func New(web Sessions, keyPairs ...[]byte) *Store {
	if web == nil {
		panic("gorillastore: New with nil sessions: pass a sessionmesh member's WebSessions()")
	}
	if len(keyPairs) == 0 || len(keyPairs[0]) == 0 {
		panic("gorillastore: New without a hash key: cookies would be forged (give 32 random bytes, kept secret and the same on every member)")
	}
	for i, k := range keyPairs {
		switch {
		case i%2 == 0 && len(k) < 32:
			panic(fmt.Sprintf("gorillastore: a hash key of %d bytes: give 32 or 64 random bytes", len(k)))
		case i%2 == 1 && len(k) != 0 && len(k) != 16 && len(k) != 24 && len(k) != 32:
			panic(fmt.Sprintf("gorillastore: a block key of %d bytes: give 16, 24 or 32 random bytes, or none", len(k)))
		}
	}
	s := &Store{
		Codecs:  securecookie.CodecsFromPairs(keyPairs...),
		Options: &sessions.Options{Path: "/", MaxAge: 86400 * 30, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode},
		web:     web,
	}
	s.MaxAge(s.Options.MaxAge)
	return s
}

// MaxAge sets how long sessions last, in seconds, in new sessions' cookies
// and in the codecs that check a cookie's age.
func (s *Store) MaxAge(age int) {
	s.Options.MaxAge = age
	for _, c := range s.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(age)
		}
	}
}

// Get returns the session called name for the request, loading it once per
// request (sessions.GetRegistry).
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New returns the session called name for the request: the one its cookie
// names, if the cookie verifies and the cluster holds the session, or else
// a new one (IsNew). Its error is the cluster's, if it could not tell; a
// cookie that does not verify is no error, only a new session.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	session := sessions.NewSession(s, name)
	opts := *s.Options
	session.Options = &opts
	session.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return session, nil
	}
	var id string
	if securecookie.DecodeMulti(name, c.Value, &id, s.Codecs...) != nil || id == "" {
		return session, nil // forged, expired or from other keys: a new session
	}
	b, found, err := s.web.Find(r.Context(), Prefix+id)
	switch {
	case err != nil:
		return session, err
	case !found:
		return session, nil
	}
	if err := (securecookie.GobEncoder{}).Deserialize(b, &session.Values); err != nil {
		return session, errors.Join(errors.New("gorillastore: the session's values do not decode (a type not registered with gob?)"), err)
	}
	session.ID, session.IsNew = id, false
	return session, nil
}

// deleted returns opts for a cookie that the browser deletes.
func deleted(opts *sessions.Options) *sessions.Options {
	o := *opts
	o.MaxAge = -1
	return &o
}

// RenewID gives the session a new ID and saves it under that one, its
// values kept, and deletes it under the old one, for good: call it when a
// user logs in (or their privileges change), so that an ID an attacker
// planted or saw before does not follow them in (session fixation). It is
// what scs's RenewToken does.
func (s *Store) RenewID(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	old := session.ID
	session.ID = rand.Text()
	if err := s.Save(r, w, session); err != nil {
		session.ID = old
		return err
	}
	if old != "" {
		if err := s.web.Delete(r.Context(), Prefix+old); err != nil {
			return fmt.Errorf("gorillastore: the session has a new ID, but the old one may still be found: %w", err)
		}
	}
	session.IsNew = false
	return nil
}

// Save stores the session in the cluster and sets its cookie. A session
// whose Options.MaxAge is negative is deleted, for good, and its cookie
// cleared. A session deleted meanwhile (a logout in another tab) stays
// deleted: Save drops the write, clears the cookie and returns nil.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	if session.Options.MaxAge < 0 {
		id := session.ID
		if id == "" {
			// Get could not load it (the cluster did not answer) and the
			// handler went on: the cookie still names the session to end.
			if c, err := r.Cookie(session.Name()); err == nil {
				securecookie.DecodeMulti(session.Name(), c.Value, &id, s.Codecs...)
			}
		}
		if id != "" {
			if err := s.web.Delete(r.Context(), Prefix+id); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(session.Name(), "", session.Options))
		return nil
	}
	if session.ID == "" {
		session.ID = rand.Text()
	}
	b, err := (securecookie.GobEncoder{}).Serialize(session.Values)
	if err != nil {
		return err
	}
	lifetime := time.Duration(session.Options.MaxAge) * time.Second
	if lifetime == 0 {
		lifetime = browserLifetime
	}
	if err := s.web.Commit(r.Context(), Prefix+session.ID, b, time.Now().Add(lifetime)); errors.Is(err, store.ErrDeleted) {
		// Deleted meanwhile (a logout in another tab): the delete stands,
		// and the cookie names a session that is no more.
		http.SetCookie(w, sessions.NewCookie(session.Name(), "", deleted(session.Options)))
		return nil
	} else if err != nil {
		return err
	}
	encoded, err := securecookie.EncodeMulti(session.Name(), session.ID, s.Codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(session.Name(), encoded, session.Options))
	return nil
}
