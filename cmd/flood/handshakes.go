package main

import (
	"context"
	"crypto/tls"
	"time"

	"golang.org/x/time/rate"
)

// handshakeFlood makes returning clients first (clients that came back
// once, so that the cluster holds a session of theirs made by a resumption,
// which the store keeps longer than a first visit's), then full TLS 1.3
// handshakes from new clients, perSecond a second and conc at once, until
// ctx is done; then it checks that every returning client still resumes,
// on the target and on another member. Each full handshake stores a
// session, so the flood fills the target's store as fast as it can.
func handshakeFlood(ctx context.Context, s scene, from *sources, returning, perSecond, conc int, t *tally) {
	target, other := s.victim(), s.others()[0]
	clients := make([]*oneSession, returning)
	for i := range clients {
		clients[i] = &oneSession{}
		for range 2 {
			if _, err := visit(ctx, from, target.tls, serverName, tls.VersionTLS13, clients[i]); err != nil {
				t.fail("a returning client could not connect to %s: %s", target.name, oneLine(err))
				return
			}
		}
	}
	// A client with no session cache offers no PSK modes, and a server
	// gives tickets only to a client that would use them: each first
	// visit needs a cache, even one that forgets.
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: serverName, MinVersion: tls.VersionTLS13, ClientSessionCache: forget{}}
	lim := rate.NewLimiter(rate.Limit(perSecond), conc)
	workers(ctx, conc, func(ctx context.Context) {
		for lim.Wait(ctx) == nil {
			raw, err := from.dial(ctx, target.tls)
			if err != nil {
				if ctx.Err() == nil {
					t.failed("connect", err)
				}
				continue
			}
			// A TLS 1.3 server stores the session before the client's
			// Finished, when it sends the ticket: the client need not
			// wait for it.
			raw.SetDeadline(time.Now().Add(dialTimeout))
			c := tls.Client(raw, cfg)
			if err := c.HandshakeContext(ctx); err != nil {
				if ctx.Err() == nil {
					t.failed("handshake", err)
					t.cut.Add(1)
				}
			} else {
				t.sent.Add(1)
			}
			abort(raw)
		}
	})
	// The check runs after the flood, with a context of its own.
	check, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range []node{target, other} {
		missed := 0
		for _, c := range clients {
			if resumed, err := visit(check, from, n.tls, serverName, tls.VersionTLS13, c); err != nil || !resumed {
				missed++
			}
		}
		if missed > 0 {
			t.fail("%d of %d returning clients did not resume on %s after %d first visits", missed, len(clients), n.name, t.sent.Load())
		} else {
			t.note("every one of %d returning clients resumed on %s after %d first visits", len(clients), n.name, t.sent.Load())
		}
	}
}

// forget is a client session cache that keeps nothing.
type forget struct{}

func (forget) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (forget) Put(string, *tls.ClientSessionState)        {}
