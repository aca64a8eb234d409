package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Errors from Client.Do besides the context's.
var (
	// ErrUnavailable means the peer failed recently (a dial error, a broken
	// connection or a timeout) and the client fails fast instead of trying
	// again before its backoff ends. The handshake path must not pay a
	// connection attempt to a dead node on every lookup.
	ErrUnavailable = errors.New("peer: unavailable")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("peer: client closed")
)

// Client timing.
const (
	// DialTimeout bounds a connection attempt, TLS handshake included. Dials
	// run in the background, so a caller with a shorter deadline stops
	// waiting but does not cut the attempt short for the others.
	DialTimeout = 3 * time.Second
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 2 * time.Second
)

// Client talks to one peer over a single persistent connection that carries
// any number of concurrent requests. The connection is dialed on first use and
// redialed after it breaks. A Client is safe for concurrent use.
type Client struct {
	addr   string
	tls    *tls.Config
	dialer DialFunc
	logger *slog.Logger
	ctx    context.Context // canceled by Close; aborts a dial in progress
	cancel context.CancelFunc

	mu        sync.Mutex // guards the fields below
	cur       *conn      // the live connection, or nil
	dialing   chan struct{}
	failures  int       // consecutive failures
	downUntil time.Time // fail fast until then
	lastErr   error     // why the peer is down
	slowOnly  bool      // the peer is down only for having been slow: a request timed out
	closed    bool
	recovered func() // called when a request succeeds after failures

	wg sync.WaitGroup // dial goroutines
}

// DialFunc opens the raw connection to a peer; net.Dialer's DialContext is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// NewClient returns a client for the peer at addr. tlsConfig must present a
// client certificate the peer trusts; if its ServerName is empty, addr's host
// is verified. dial opens connections (nil: a net.Dialer with TCP keepalives);
// logger may be nil.
func NewClient(addr string, tlsConfig *tls.Config, dial DialFunc, logger *slog.Logger) *Client {
	cfg := tlsConfig.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 15 * time.Second}).DialContext
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{addr: addr, tls: cfg, dialer: dial, logger: logger, ctx: ctx, cancel: cancel}
}

// Addr returns the peer's address.
func (c *Client) Addr() string { return c.addr }

// Warm starts connecting in the background, unless the client is connected,
// connecting, backing off, or closed; it does not wait. The store warms a
// client when its peer joins the ring, so that the first lookup there does
// not pay for the TLS handshake.
func (c *Client) Warm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.cur != nil || c.dialing != nil || time.Now().Before(c.downUntil) {
		return
	}
	c.dialing = make(chan struct{})
	c.wg.Add(1)
	go c.dial(c.dialing)
}

// Connected reports whether the client has a live connection.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

// Do sends req and waits for its response until ctx ends. req.ID is ignored.
func (c *Client) Do(ctx context.Context, req *Request) (Response, error) {
	if len(req.Key) > MaxKey || len(req.Value) > MaxFrame-len(req.Key)-32 {
		return Response{}, fmt.Errorf("peer: request too large (key %d bytes, value %d)", len(req.Key), len(req.Value))
	}
	for attempt := 0; ; attempt++ {
		cn, dialed, err := c.connect(ctx)
		if err != nil {
			return Response{}, err
		}
		resp, err := cn.roundTrip(ctx, req)
		switch {
		case err == nil:
			c.succeeded()
		case errors.Is(err, context.DeadlineExceeded) && patient(ctx):
			c.failed(fmt.Errorf("peer %s: no answer in time, even waiting", c.addr))
		case errors.Is(err, context.DeadlineExceeded):
			c.timedOut(fmt.Errorf("peer %s: no answer in time", c.addr))
		case errors.Is(err, context.Canceled):
		default:
			c.drop(cn)
			// Nothing reads an idle connection, so one the peer closed
			// (it restarted, say) is only found out now. Try once more on
			// a fresh one before calling the peer down.
			if attempt == 0 && !dialed {
				continue
			}
			c.failed(err)
			if !errors.Is(err, ErrUnavailable) {
				err = fmt.Errorf("%w: %s: %w", ErrUnavailable, c.addr, err)
			}
		}
		return resp, err
	}
}

// connect returns the live connection, dialing one if there is none, and
// whether it waited for a dial.
func (c *Client) connect(ctx context.Context) (cn *conn, dialed bool, err error) {
	c.mu.Lock()
	for {
		switch {
		case c.closed:
			c.mu.Unlock()
			return nil, dialed, ErrClosed
		case time.Now().Before(c.downUntil) && !(c.slowOnly && patient(ctx)):
			err := c.lastErr
			c.mu.Unlock()
			return nil, dialed, fmt.Errorf("%w: %s: %v", ErrUnavailable, c.addr, err)
		case c.cur != nil:
			cn := c.cur
			c.mu.Unlock()
			return cn, dialed, nil
		case c.dialing == nil:
			c.dialing = make(chan struct{})
			c.wg.Add(1)
			go c.dial(c.dialing)
		}
		wait := c.dialing
		c.mu.Unlock()
		select {
		case <-wait:
			dialed = true
		case <-ctx.Done():
			return nil, dialed, ctx.Err()
		}
		c.mu.Lock()
	}
}

// dial connects in the background and publishes the result.
func (c *Client) dial(done chan struct{}) {
	defer c.wg.Done()
	cn, err := c.open()
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(done)
	c.dialing = nil
	if err != nil {
		c.failedLocked(err)
		return
	}
	if c.closed {
		cn.fail(ErrClosed)
		return
	}
	c.cur = cn
}

func (c *Client) open() (*conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, DialTimeout)
	defer cancel()
	raw, err := c.dialer(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, c.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("peer %s: TLS handshake: %w", c.addr, err)
	}
	// The preamble goes out at once: the server gives a new connection
	// HandshakeTimeout to send it, and a connection warmed ahead of its
	// first request must not be closed for being idle.
	if d, ok := ctx.Deadline(); ok {
		tc.SetWriteDeadline(d)
	}
	if _, err := io.WriteString(tc, preamble); err != nil {
		raw.Close()
		return nil, fmt.Errorf("peer %s: sending preamble: %w", c.addr, err)
	}
	tc.SetWriteDeadline(time.Time{})
	cn := newConn(tc)
	c.logger.Debug("peer connected", "addr", c.addr)
	return cn, nil
}

// drop forgets cn if it is the live connection, so the next Do redials.
func (c *Client) drop(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == cn {
		c.cur = nil
	}
}

// OnRecover sets f to be called when a request succeeds after one or more
// failed: the peer is back (a partition healed, a process came up), and
// whatever waits for it can go now. f must not block.
func (c *Client) OnRecover(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recovered = f
}

func (c *Client) succeeded() {
	c.mu.Lock()
	back := c.failures > 0 && c.recovered != nil
	c.failures, c.downUntil = 0, time.Time{} // it answers: no reason to skip it
	f := c.recovered
	c.mu.Unlock()
	if back {
		f()
	}
}

func (c *Client) failed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failedLocked(err)
}

// timedOut marks the peer down, as failed does, for an answer that did not
// come within a request's deadline: it is slow, or gone; requests that may
// wait (Patient) still try it.
func (c *Client) timedOut(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failedLocked(err)
	c.slowOnly = true
}

// patientKey marks a context as Patient's.
type patientKey struct{}

// Patient returns a context for requests that may wait for a slow peer
// rather than fail fast: a peer an impatient request found slow (its answer
// did not come within that request's short deadline) is still asked. A
// patient request that times out, having waited as long as its caller
// could, marks the peer down for everyone, as a failed connection does; a
// peer marked down so is skipped by patient requests too. The TLS handshake path, which must not
// wait, uses plain contexts; web session writes and reads, which are worth
// the wait and must not be turned away because a flood of handshakes made
// lookups time out, use Patient ones.
func Patient(ctx context.Context) context.Context { return context.WithValue(ctx, patientKey{}, true) }

func patient(ctx context.Context) bool { return ctx.Value(patientKey{}) != nil }

// failedLocked marks the peer down for an exponential backoff.
func (c *Client) failedLocked(err error) {
	if c.closed {
		return
	}
	c.failures++
	backoff := min(minBackoff<<min(c.failures-1, 10), maxBackoff)
	c.downUntil = time.Now().Add(backoff)
	c.lastErr = err
	c.slowOnly = false
	c.logger.Debug("peer marked down", "addr", c.addr, "for", backoff, "err", err)
}

// Close closes the connection, fails requests in flight and waits for a dial
// in progress. It is safe to call twice.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	c.cancel()
	if cur != nil {
		cur.fail(ErrClosed)
	}
	c.wg.Wait()
	return nil
}
