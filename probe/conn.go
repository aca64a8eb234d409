package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"sync"
	"time"
)

// connect handshakes with addr, then sends an HTTP HEAD request and reads
// until the server closes the connection, the timeout passes or parent is
// done: a TLS 1.3 server sends its session ticket after the handshake, and
// the client takes it only as it reads. A server that does not speak HTTP
// costs the timeout, no more; what it answers does not matter, nor does a
// read error, once the handshake is done. But a connection that parent cut
// short is an error: the session it was to give may not have arrived.
func connect(parent context.Context, cfg *tls.Config, addr string, timeout time.Duration) (tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	c := nc.(*tls.Conn)
	defer c.Close()
	// The deadline bounds the read by the timeout; the AfterFunc ends it
	// when ctx is cancelled early. In this order, so that a cancellation
	// that came first is not overwritten by the deadline.
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	host := cfg.ServerName
	if host == "" {
		host = addr
	}
	fmt.Fprintf(c, "HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: sessionmesh-probe\r\nConnection: close\r\n\r\n", host)
	io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	return c.ConnectionState(), parent.Err()
}

// oneSession is a client session cache that holds one session and offers
// it to every server, whatever its name or address: crypto/tls's own cache
// is keyed by server name, and the probe must offer A's session to B even
// when their names differ, the way a client behind a load balancer does.
type oneSession struct {
	mu sync.Mutex // guards s
	s  *tls.ClientSessionState
}

func (c *oneSession) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s, c.s != nil
}

// Put keeps the latest session. crypto/tls puts nil to forget a session
// it found unusable; that is ignored, so that the next connection offers
// the session it was asked to.
func (c *oneSession) Put(_ string, s *tls.ClientSessionState) {
	if s == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = s
}

func (c *oneSession) has() bool {
	_, ok := c.Get("")
	return ok
}
