package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Tickets a client cannot have been given: every one must cost a full
// handshake, never a failed one (docs/security.md, "A malicious TLS client").

// garbageTickets first checks, once, that a real ticket made on another
// member resumes on the target and that garbage offered instead (random
// tickets of many lengths, the real ticket with a bit flipped or
// for another server name, raw ClientHellos with up to 500 random PSK
// identities) makes a full handshake; then, until ctx is done, it sends
// perSecond raw ClientHellos a second, conc at once, each offering five
// random 32-byte identities, which a cache-mode member looks up at the
// members that would hold them.
func garbageTickets(ctx context.Context, s scene, from *sources, perSecond, conc int, t *tally) {
	checkTickets(ctx, s, from, t)
	var answers [alert + 1]atomic.Int64
	lim := rate.NewLimiter(rate.Limit(perSecond), conc)
	workers(ctx, conc, func(ctx context.Context) {
		for lim.Wait(ctx) == nil {
			ids := make([][]byte, 5)
			for i := range ids {
				ids[i] = make([]byte, 32)
				rand.Read(ids[i])
			}
			a, err := rawHello(ctx, from, s.victim().tls, ids)
			if err != nil {
				if ctx.Err() == nil {
					t.failed("ClientHello", err)
				}
				continue
			}
			t.sent.Add(1)
			answers[a].Add(1)
		}
	})
	t.note("%d ClientHellos with 5 random identities: %d full handshakes, %d HelloRetryRequests, %d resumptions, %d alerts",
		t.sent.Load(), answers[fullHandshake].Load(), answers[retryRequest].Load(), answers[pskAccepted].Load(), answers[alert].Load())
	if n := answers[pskAccepted].Load() + answers[alert].Load(); n > 0 {
		t.fail("%d ClientHellos with random identities did not get a full handshake", n)
	}
}

// checkTickets makes the one-off checks of garbageTickets.
func checkTickets(ctx context.Context, s scene, from *sources, t *tally) {
	maker, target := s.others()[0], s.victim()
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		name := tls.VersionName(v)
		ticket, state, err := realSession(ctx, from, maker.tls, v)
		if err != nil {
			t.fail("%s: no session from %s to offer: %v", name, maker.name, oneLine(err))
			continue
		}
		offer := func(what, sni string, ticket []byte, want bool) {
			cs, err := tls.NewResumptionState(ticket, state)
			if err == nil {
				var resumed bool
				resumed, err = visit(ctx, from, target.tls, sni, v, &oneSession{s: cs})
				if err == nil && resumed != want {
					err = fmt.Errorf("resumed=%v", resumed)
				}
			}
			if err != nil {
				t.fail("%s %s on %s: %s", name, what, target.name, oneLine(err))
			}
		}
		offer(fmt.Sprintf("ticket from %s", maker.name), serverName, ticket, true)
		offer("ticket for another server name", "other.example", ticket, false)
		flipped := append([]byte(nil), ticket...)
		flipped[len(flipped)-1] ^= 1
		offer("ticket with its last bit flipped", serverName, flipped, false)
		// Random tickets: short, one off a cache-mode handle (32 bytes)
		// either way, long, and near what a ClientHello can carry.
		for _, n := range []int{1, 16, 31, 32, 33, 64, 255, 1000, 16000} {
			g := make([]byte, n)
			rand.Read(g)
			offer(fmt.Sprintf("random %d-byte ticket", n), serverName, g, false)
		}
	}
	for _, k := range []int{1, 5, 6, 50, 500} {
		ids := make([][]byte, k)
		for i := range ids {
			ids[i] = make([]byte, 32)
			rand.Read(ids[i])
		}
		checkHello(ctx, from, target, fmt.Sprintf("%d random 32-byte identities", k), ids, t)
	}
	big := make([]byte, 15000)
	rand.Read(big)
	checkHello(ctx, from, target, "one random 15,000-byte identity", [][]byte{big}, t)
}

// checkHello sends one raw ClientHello offering ids and fails t unless the
// server goes on with a full handshake.
func checkHello(ctx context.Context, from *sources, target node, what string, ids [][]byte, t *tally) {
	a, err := rawHello(ctx, from, target.tls, ids)
	switch {
	case err != nil:
		t.fail("a ClientHello with %s on %s: %s", what, target.name, oneLine(err))
	case a != fullHandshake && a != retryRequest:
		t.fail("a ClientHello with %s on %s: %s", what, target.name, a)
	}
}

// realSession makes a session on addr in TLS version v and returns its
// ticket and state.
func realSession(ctx context.Context, from *sources, addr string, v uint16) ([]byte, *tls.SessionState, error) {
	cache := &oneSession{}
	if _, err := visit(ctx, from, addr, serverName, v, cache); err != nil {
		return nil, nil, err
	}
	cs := cache.get()
	if cs == nil {
		return nil, nil, fmt.Errorf("%s gave no session", addr)
	}
	return cs.ResumptionState()
}

// visit makes one HTTPS request to addr, as a client with cache, in TLS
// version v only (0: any), and reports whether the connection resumed. It
// reads the response to its end, which is when a TLS 1.3 client takes the
// server's ticket.
func visit(ctx context.Context, from *sources, addr, sni string, v uint16, cache tls.ClientSessionCache) (resumed bool, err error) {
	raw, err := from.dial(ctx, addr)
	if err != nil {
		return false, err
	}
	defer raw.Close()
	defer closeWith(ctx, raw)()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(raw, &tls.Config{
		InsecureSkipVerify: true, ServerName: sni, MinVersion: v, MaxVersion: v, ClientSessionCache: cache,
	})
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: "+serverName+"\r\n\r\n"); err != nil {
		return false, err
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		return false, err
	}
	return c.ConnectionState().DidResume, nil
}

// oneSession is a client session cache that holds one session, whatever
// the key: the one it was given, or the last the server sent.
type oneSession struct {
	mu sync.Mutex // guards s
	s  *tls.ClientSessionState
}

func (c *oneSession) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s, c.s != nil
}

func (c *oneSession) Put(_ string, s *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s != nil {
		c.s = s
	}
}

func (c *oneSession) get() *tls.ClientSessionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}
