package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
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
	logger *slog.Logger
	ctx    context.Context // canceled by Close; aborts a dial in progress
	cancel context.CancelFunc

	mu        sync.Mutex // guards the fields below
	cur       *conn      // the live connection, or nil
	dialing   chan struct{}
	failures  int       // consecutive failures
	downUntil time.Time // fail fast until then
	lastErr   error     // why the peer is down
	closed    bool

	wg sync.WaitGroup // dial and read goroutines
}

// NewClient returns a client for the peer at addr. tlsConfig must present a
// client certificate the peer trusts; if its ServerName is empty, addr's host
// is verified.
func NewClient(addr string, tlsConfig *tls.Config, logger *slog.Logger) *Client {
	cfg := tlsConfig.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{addr: addr, tls: cfg, logger: logger, ctx: ctx, cancel: cancel}
}

// Addr returns the peer's address.
func (c *Client) Addr() string { return c.addr }

// Do sends req and waits for its response until ctx ends. req.ID is ignored.
func (c *Client) Do(ctx context.Context, req *Request) (Response, error) {
	if len(req.Key) > MaxKey || len(req.Value) > MaxFrame-len(req.Key)-32 {
		return Response{}, fmt.Errorf("peer: request too large (key %d bytes, value %d)", len(req.Key), len(req.Value))
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return Response{}, err
	}
	resp, err := cn.roundTrip(ctx, req)
	switch {
	case err == nil:
		c.succeeded()
	case errors.Is(err, context.DeadlineExceeded):
		c.failed(fmt.Errorf("peer %s: no answer in time", c.addr))
	case errors.Is(err, context.Canceled):
	default:
		c.drop(cn)
		c.failed(err)
	}
	return resp, err
}

// connect returns the live connection, dialing one if there is none.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	for {
		switch {
		case c.closed:
			c.mu.Unlock()
			return nil, ErrClosed
		case time.Now().Before(c.downUntil):
			err := c.lastErr
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, c.addr, err)
		case c.cur != nil:
			cn := c.cur
			c.mu.Unlock()
			return cn, nil
		case c.dialing == nil:
			c.dialing = make(chan struct{})
			c.wg.Add(1)
			go c.dial(c.dialing)
		}
		wait := c.dialing
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
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
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cn.readLoop()
		c.drop(cn)
	}()
}

func (c *Client) open() (*conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, DialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 15 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, c.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("peer %s: TLS handshake: %w", c.addr, err)
	}
	cn := newConn(tc)
	// The preamble goes out with the first request.
	cn.bw.WriteString(preamble)
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

func (c *Client) succeeded() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = 0
}

func (c *Client) failed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failedLocked(err)
}

// failedLocked marks the peer down for an exponential backoff.
func (c *Client) failedLocked(err error) {
	if c.closed {
		return
	}
	c.failures++
	backoff := min(minBackoff<<min(c.failures-1, 10), maxBackoff)
	c.downUntil = time.Now().Add(backoff)
	c.lastErr = err
	c.logger.Debug("peer marked down", "addr", c.addr, "for", backoff, "err", err)
}

// Close closes the connection, fails requests in flight and waits for the
// client's goroutines. It is safe to call twice.
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

// conn is one established connection with its requests in flight.
type conn struct {
	nc net.Conn
	br *bufio.Reader

	writers atomic.Int32 // goroutines writing or waiting to write
	wmu     sync.Mutex   // guards bw and fw
	bw      *bufio.Writer
	fw      *frameWriter

	nextID atomic.Uint64

	mu      sync.Mutex // guards pending and err
	pending map[uint64]chan Response
	err     error         // why the connection broke; set once, before done is closed
	done    chan struct{} // closed when the connection breaks
}

func newConn(nc net.Conn) *conn {
	return &conn{
		nc:      nc,
		br:      bufio.NewReaderSize(nc, 16<<10),
		bw:      bufio.NewWriterSize(nc, 16<<10),
		fw:      newFrameWriter(),
		pending: make(map[uint64]chan Response),
		done:    make(chan struct{}),
	}
}

func (cn *conn) roundTrip(ctx context.Context, req *Request) (Response, error) {
	r := *req
	r.ID = cn.nextID.Add(1)
	ch := make(chan Response, 1)
	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		return Response{}, err
	}
	cn.pending[r.ID] = ch
	cn.mu.Unlock()

	if err := cn.write(ctx, &r); err != nil {
		cn.fail(err)
		return Response{}, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-cn.done:
		return Response{}, cn.err
	case <-ctx.Done():
		cn.mu.Lock()
		delete(cn.pending, r.ID)
		cn.mu.Unlock()
		return Response{}, ctx.Err()
	}
}

// write sends one request. Concurrent writers take turns; only the last one
// waiting flushes, so a burst of requests leaves in one TLS record.
func (cn *conn) write(ctx context.Context, r *Request) error {
	cn.writers.Add(1)
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	last := cn.writers.Add(-1) == 0
	frame, err := cn.fw.request(r) // Do checked the sizes
	if err != nil {
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(HandshakeTimeout)
	}
	cn.nc.SetWriteDeadline(deadline)
	if _, err := cn.bw.Write(frame); err != nil {
		return err
	}
	if last {
		return cn.bw.Flush()
	}
	return nil
}

// readLoop delivers responses until the connection breaks.
func (cn *conn) readLoop() {
	fr := newFrameReader()
	var body []byte
	for {
		var err error
		if body, err = readFrame(cn.br, body); err != nil {
			cn.fail(err)
			return
		}
		resp, err := fr.response(body)
		if err != nil {
			cn.fail(err)
			return
		}
		cn.mu.Lock()
		ch := cn.pending[resp.ID]
		delete(cn.pending, resp.ID)
		cn.mu.Unlock()
		if ch != nil {
			ch <- resp // buffered; the caller may have given up
		}
	}
}

// fail breaks the connection: every request in flight gets err.
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = err
		clear(cn.pending)
		close(cn.done)
	}
	cn.mu.Unlock()
	cn.nc.Close()
}
