package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"time"

	"golang.org/x/time/rate"
)

// Attacks on the data port, the peer channel's mutual TLS 1.3. Before it
// knows who calls, a member spends a key exchange and a signature on each
// TLS handshake, so admission closes connections beyond its bounds before
// any TLS (100 a second and 32 unauthenticated for strangers, 4 of those per
// address), and wants the whole ClientHello within a second.

// dataConnects opens rate connections a second to addr, conc at once, each
// sending 64 bytes of junk and closing: the cheapest flood there is.
func dataConnects(ctx context.Context, addr string, from *sources, perSecond, conc int, t *tally) {
	junk := make([]byte, 64)
	rand.Read(junk)
	lim := rate.NewLimiter(rate.Limit(perSecond), conc)
	workers(ctx, conc, func(ctx context.Context) {
		for lim.Wait(ctx) == nil {
			c, err := from.dial(ctx, addr)
			if err != nil {
				if ctx.Err() == nil {
					t.failed("connect", err)
				}
				continue
			}
			t.sent.Add(1)
			c.Write(junk)
			abort(c)
		}
	})
}

// abort closes c with a reset instead of a FIN, so that the attacker's
// side keeps no TIME_WAIT entry: a flood of a few thousand connections a
// second from one address would otherwise run out of ports.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// dataHandshakes makes rate TLS 1.3 handshakes a second with addr, conc at
// once, without a client certificate, each waiting for the member's
// verdict: most are closed before any TLS, the admitted ones cost the member
// a handshake and end in "certificate required".
func dataHandshakes(ctx context.Context, addr string, from *sources, perSecond, conc int, t *tally) {
	lim := rate.NewLimiter(rate.Limit(perSecond), conc)
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	workers(ctx, conc, func(ctx context.Context) {
		for lim.Wait(ctx) == nil {
			c, err := from.dial(ctx, addr)
			if err != nil {
				if ctx.Err() == nil {
					t.failed("connect", err)
				}
				continue
			}
			t.sent.Add(1)
			stop := closeWith(ctx, c)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			tc := tls.Client(c, cfg)
			// TLS 1.3: the client's handshake ends before the server has
			// checked the (missing) certificate; a read brings the verdict.
			kind, err := "handshake", tc.Handshake()
			if err == nil {
				kind, err = "read after the handshake", readVerdict(tc)
			}
			if err != nil && ctx.Err() == nil {
				t.cut.Add(1)
				t.failed(kind, err)
			}
			stop()
			abort(c)
		}
	})
}

// readVerdict reads from c until the server says something: for a stranger,
// an alert.
func readVerdict(c io.Reader) error {
	_, err := c.Read(make([]byte, 1))
	return err
}

// dataHolders keeps conns connections to addr open until ctx is done, each
// having sent the first bytes of a ClientHello that never comes whole: they
// hold admission's places for unauthenticated connections until the member's
// deadline closes them, and then connect again.
func dataHolders(ctx context.Context, addr string, from *sources, conns int, t *tally) {
	// A handshake record header announcing 512 bytes, and 10 of them.
	partial := append([]byte{22, 3, 1, 2, 0}, make([]byte, 10)...)
	workers(ctx, conns, func(ctx context.Context) {
		for ctx.Err() == nil {
			c, err := from.dial(ctx, addr)
			if err != nil {
				if ctx.Err() == nil {
					t.failed("connect", err)
					pause(ctx, 20*time.Millisecond)
				}
				continue
			}
			t.sent.Add(1)
			stop := closeWith(ctx, c)
			c.Write(partial)
			io.Copy(io.Discard, c) // until the member closes it, or ctx does
			stop()
			c.Close()
			if ctx.Err() == nil {
				t.cut.Add(1)
				pause(ctx, 20*time.Millisecond)
			}
		}
	})
}
