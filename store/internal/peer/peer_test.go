package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"

	"github.com/sessionmesh/sessionmesh/cluster"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// mapHandler is a Handler over a map, the way the store uses the protocol.
type mapHandler struct {
	mu    sync.Mutex
	m     map[string][]byte
	delay time.Duration // how long each request takes
}

func (h *mapHandler) ServePeer(r *Request) Response {
	h.mu.Lock()
	delay := h.delay
	h.mu.Unlock()
	time.Sleep(delay) // a slow peer
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string][]byte)
	}
	switch r.Op {
	case OpGet:
		v, ok := h.m[r.Key]
		if !ok {
			return Response{Status: StatusNotFound}
		}
		return Response{Value: v}
	case OpPut:
		h.m[r.Key] = r.Value
		return Response{}
	case OpDelete:
		delete(h.m, r.Key)
		return Response{}
	}
	return Response{Status: StatusInvalid}
}

type fixture struct {
	secret []byte
	srv    *Server
	addr   string
}

// serve starts a server for h on loopback with TLS derived from a fresh secret.
func serve(t *testing.T, h Handler) *fixture {
	t.Helper()
	f := &fixture{secret: cluster.NewSecret()}
	f.srv = NewServer(h, peerTLS(t, "server", f.secret), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ln) }()
	t.Cleanup(func() {
		f.srv.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return f
}

func (f *fixture) client(t *testing.T) *Client {
	t.Helper()
	c := NewClient(f.addr, peerTLS(t, "client", f.secret), nil, nil)
	t.Cleanup(func() { c.Close() })
	return c
}

func peerTLS(t *testing.T, name string, secret []byte) *tls.Config {
	t.Helper()
	c, err := cluster.PeerTLSConfig(name, secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRoundTrip(t *testing.T) {
	f := serve(t, &mapHandler{})
	c := f.client(t)
	ctx := ctxTimeout(t, 5*time.Second)

	if r, err := c.Do(ctx, &Request{Op: OpGet, Key: "k"}); err != nil || r.Status != StatusNotFound {
		t.Fatalf("Get missing = %v, %v", r.Status, err)
	}
	if _, err := c.Do(ctx, &Request{Op: OpPut, Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Do(ctx, &Request{Op: OpGet, Key: "k"}); err != nil || r.Status != StatusOK || string(r.Value) != "v" {
		t.Fatalf("Get = %v %q, %v", r.Status, r.Value, err)
	}
	if r, _ := c.Do(ctx, &Request{Op: 99, Key: "k"}); r.Status != StatusInvalid {
		t.Errorf("unknown op: status %v", r.Status)
	}
	if _, err := c.Do(ctx, &Request{Op: OpGet, Key: string(make([]byte, MaxKey+1))}); err == nil {
		t.Error("a too-long key was sent")
	}
	// The refused request did not break the connection.
	if r, err := c.Do(ctx, &Request{Op: OpGet, Key: "k"}); err != nil || string(r.Value) != "v" {
		t.Fatalf("after a refused request: %q, %v", r.Value, err)
	}
}

// TestConcurrentRequests: many goroutines share one connection, and every
// response reaches the request it answers.
func TestConcurrentRequests(t *testing.T) {
	h := &mapHandler{}
	f := serve(t, h)
	c := f.client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	const n = 64
	const each = 50
	for i := range n * each {
		h.ServePeer(&Request{Op: OpPut, Key: fmt.Sprint(i), Value: []byte(fmt.Sprint("value-", i))})
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range n {
		wg.Go(func() {
			for i := g * each; i < (g+1)*each; i++ {
				r, err := c.Do(ctx, &Request{Op: OpGet, Key: fmt.Sprint(i)})
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprint("value-", i); string(r.Value) != want {
					errs <- fmt.Errorf("key %d: got %q, want %q", i, r.Value, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSlowPeer: a peer that answers after the deadline costs the caller its
// deadline, then fails fast during the backoff, and is used again after.
func TestSlowPeer(t *testing.T) {
	h := &mapHandler{delay: 200 * time.Millisecond}
	f := serve(t, h)
	c := f.client(t)
	// Connect first, so the timeout below is the request's alone.
	if _, err := c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "k"}); err != nil {
		t.Fatal(err)
	}

	_, err := c.Do(ctxTimeout(t, 20*time.Millisecond), &Request{Op: OpGet, Key: "k"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow request: %v, want DeadlineExceeded", err)
	}
	_, err = c.Do(ctxTimeout(t, time.Second), &Request{Op: OpGet, Key: "k"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("request during backoff: %v, want ErrUnavailable", err)
	}

	h.mu.Lock()
	h.delay = 0
	h.mu.Unlock()
	waitUntil(t, func() bool {
		_, err := c.Do(ctxTimeout(t, time.Second), &Request{Op: OpGet, Key: "k"})
		return err == nil
	})
}

// TestPatientAsksSlowPeer: a peer marked down because an impatient request
// timed out is still asked by a Patient request; a patient request that
// times out, or a connection that fails, marks it down for every request.
func TestPatientAsksSlowPeer(t *testing.T) {
	h := &mapHandler{delay: 100 * time.Millisecond}
	f := serve(t, h)
	c := f.client(t)
	if _, err := c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpPut, Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctxTimeout(t, 10*time.Millisecond), &Request{Op: OpGet, Key: "k"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a lookup with a short deadline: %v, want DeadlineExceeded", err)
	}
	if _, err := c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "k"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("an impatient request during the backoff: %v, want ErrUnavailable", err)
	}
	if r, err := c.Do(Patient(ctxTimeout(t, 5*time.Second)), &Request{Op: OpGet, Key: "k"}); err != nil || string(r.Value) != "v" {
		t.Fatalf("a patient request during the backoff: %q %v", r.Value, err)
	}
	// It answered: nobody skips it now.
	if _, err := c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "k"}); err != nil {
		t.Fatalf("after a patient request was answered: %v", err)
	}
	// A patient request that times out waited as long as it could: the
	// peer is down for everyone, patient requests included.
	if _, err := c.Do(Patient(ctxTimeout(t, 10*time.Millisecond)), &Request{Op: OpGet, Key: "k"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a patient request with a short deadline: %v", err)
	}
	if _, err := c.Do(Patient(ctxTimeout(t, 5*time.Second)), &Request{Op: OpGet, Key: "k"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after a patient request timed out: %v, want ErrUnavailable", err)
	}

	f.srv.Close()
	c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "k"}) // finds the connection broken
	if _, err := c.Do(Patient(ctxTimeout(t, 5*time.Second)), &Request{Op: OpGet, Key: "k"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a patient request to a peer whose connection failed: %v, want ErrUnavailable", err)
	}
}

// TestDeadPeer: requests to a stopped server fail at once, and the client
// reconnects when a server is back at the address.
func TestDeadPeer(t *testing.T) {
	h := &mapHandler{}
	f := serve(t, h)
	c := f.client(t)
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := c.Do(ctx, &Request{Op: OpPut, Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	f.srv.Close()
	// The connection breaks under a request: the caller learns the peer is
	// unavailable (a store then falls back), not a bare network error.
	if _, err := c.Do(ctx, &Request{Op: OpGet, Key: "k"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("request to a stopped server: %v, want ErrUnavailable", err)
	}
	// Whether the peer is still marked down (fail fast) or its backoff has
	// ended (dial, refused) depends on how busy the machine is; either way
	// the request fails at once rather than waiting for its deadline.
	if _, err := c.Do(ctx, &Request{Op: OpGet, Key: "k"}); err == nil {
		t.Fatal("request to a stopped server succeeded")
	} else if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second request: %v, want ErrUnavailable", err)
	}

	// A new server on the same address.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		t.Skipf("cannot rebind %s: %v", f.addr, err)
	}
	srv := NewServer(h, peerTLS(t, "server", f.secret), nil)
	go srv.Serve(ln)
	defer srv.Close()
	waitUntil(t, func() bool {
		r, err := c.Do(ctxTimeout(t, time.Second), &Request{Op: OpGet, Key: "k"})
		return err == nil && string(r.Value) == "v"
	})
}

// TestWrongSecret: a client with another cluster's secret cannot read.
func TestWrongSecret(t *testing.T) {
	f := serve(t, &mapHandler{m: map[string][]byte{"k": []byte("secret session")}})
	c := NewClient(f.addr, peerTLS(t, "intruder", cluster.NewSecret()), nil, nil)
	defer c.Close()
	r, err := c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "k"})
	if err == nil {
		t.Fatalf("intruder read %q", r.Value)
	}
	t.Logf("error: %v", err)
}

// TestGarbage: an authenticated peer that sends garbage or a huge frame is
// disconnected; the server keeps serving others.
func TestGarbage(t *testing.T) {
	f := serve(t, &mapHandler{})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"wrong preamble", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"other version", []byte("SMSH\x02\x00\x00\x00\x01\x90")},
		{"huge frame", append([]byte(preamble), 0xff, 0xff, 0xff, 0xff)},
		{"not msgpack", append([]byte(preamble), 0, 0, 0, 3, 0xc1, 0xc1, 0xc1)},
		{"short array", append([]byte(preamble), 0, 0, 0, 2, 0x91, 0x01)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", f.addr, peerTLS(t, "client", f.secret))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write(tc.data)
			if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
				t.Errorf("server answered %d bytes, err %v; want a closed connection", n, err)
			}
		})
	}
	c := f.client(t)
	if _, err := c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "k"}); err != nil {
		t.Errorf("server stopped serving: %v", err)
	}
}

func TestCloseFailsRequestsInFlight(t *testing.T) {
	f := serve(t, &mapHandler{delay: time.Second})
	c := NewClient(f.addr, peerTLS(t, "client", f.secret), nil, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), &Request{Op: OpGet, Key: "k"})
		errc <- err
	}()
	// Close while the request waits (or even before it is sent): either way
	// it must end with an error, not hang.
	c.Close()
	if err := <-errc; err == nil {
		t.Error("request succeeded after Close")
	}
	if _, err := c.Do(context.Background(), &Request{Op: OpGet, Key: "k"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v", err)
	}
	c.Close()
}

func TestFrameRoundTrip(t *testing.T) {
	w := newFrameWriter()
	req := Request{ID: 1<<64 - 1, Op: OpPut, Key: "key\x00\xff", Value: bytes.Repeat([]byte{7}, 1000)}
	b, err := w.request(&req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRequest(b[4:])
	if err != nil || got.ID != req.ID || got.Op != req.Op || got.Key != req.Key || !bytes.Equal(got.Value, req.Value) {
		t.Fatalf("request round trip: %+v, %v", got, err)
	}
	resp := Response{ID: 42, Status: StatusNotFound}
	if b, err = w.response(&resp); err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeResponse(b[4:]); err != nil || got.ID != 42 || got.Status != StatusNotFound || len(got.Value) != 0 {
		t.Fatalf("response round trip: %+v, %v", got, err)
	}
}

// waitUntil polls cond until it holds, failing the test after 10 seconds.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWarmSendsPreamble: a warmed connection introduces itself at once. The
// server closes a connection that has not sent its preamble within
// HandshakeTimeout, so a warm connection that waited for its first request
// was closed after five idle seconds.
func TestWarmSendsPreamble(t *testing.T) {
	secret := cluster.NewSecret()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", peerTLS(t, "server", secret))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got <- readPreamble(c)
	}()
	c := NewClient(ln.Addr().String(), peerTLS(t, "client", secret), nil, nil)
	defer c.Close()
	c.Warm()
	if err := <-got; err != nil {
		t.Fatalf("no preamble from a warmed connection, without a request: %v", err)
	}
}

// TestCancelWithoutDeadline: a caller whose context is canceled, with no
// deadline, stops waiting at once even while it is the one reading the
// connection, and the connection stays usable for the next request.
func TestCancelWithoutDeadline(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f := serve(t, HandlerFunc(func(r *Request) Response {
		if r.Key == "stuck" {
			close(arrived)
			<-release
		}
		return Response{Value: []byte("v")}
	}))
	defer once.Do(func() { close(release) }) // before serve's cleanup closes the server
	c := f.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := c.Do(ctx, &Request{Op: OpGet, Key: "stuck"}); errc <- err }()
	<-arrived // the request is sent: Do reads, or is about to
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	once.Do(func() { close(release) })
	resp, err := c.Do(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "other"})
	if err != nil || string(resp.Value) != "v" {
		t.Fatalf("the next request: %q, %v", resp.Value, err)
	}
}

// TestNoClientCertificate: a server whose config (wrongly) does not demand a
// client certificate refuses a client without one instead of panicking.
func TestNoClientCertificate(t *testing.T) {
	secret := cluster.NewSecret()
	cfg := peerTLS(t, "server", secret)
	cfg.ClientAuth = tls.NoClientCert
	srv := NewServer(&mapHandler{}, cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() { srv.Close(); <-done }()

	client := peerTLS(t, "client", secret)
	client.GetClientCertificate = nil // presents none
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, preamble)
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
		t.Errorf("server answered %d bytes, err %v; want a closed connection", n, err)
	}
}

// TestConnectionFlood: thousands of connections from strangers (plain TCP
// that sends nothing, and TLS without a client certificate) cost the server
// at most handshakeBurst + handshakeRate per second TLS handshakes; the rest
// are closed before any TLS and counted, with a log line per kind, not per
// connection. A member's client gets in again once the flood stops.
func TestConnectionFlood(t *testing.T) {
	var logs syncWriter
	secret := cluster.NewSecret()
	srv := NewServer(&mapHandler{}, peerTLS(t, "server", secret), slog.New(slog.NewTextHandler(&logs, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() { srv.Close(); <-done }()

	const flood = 2000
	start := time.Now()
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return // the kernel's backlog overflowed: refused before us
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if i%2 == 0 {
				tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake() // no client certificate
			}
			io.Copy(io.Discard, c) // until the server closes it
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	rej := srv.Rejected()
	handshakes := rej[rejectTLS] + rej[rejectPreamble]
	if limit := uint64(handshakeBurst + handshakeRate*elapsed.Seconds() + 1); handshakes > limit {
		t.Errorf("%d TLS handshakes in %v, over the bound of %d", handshakes, elapsed, limit)
	}
	if rej[rejectBusy] == 0 {
		t.Errorf("nothing refused as over the limit: %v", rej)
	}
	if n := strings.Count(logs.String(), "\n"); n > 4 {
		t.Errorf("%d log lines for the flood:\n%s", n, logs.String())
	}
	c := NewClient(ln.Addr().String(), peerTLS(t, "member", secret), nil, nil)
	defer c.Close()
	waitUntil(t, func() bool {
		_, err := c.Do(ctxTimeout(t, time.Second), &Request{Op: OpGet, Key: "k"})
		return err == nil
	})
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
