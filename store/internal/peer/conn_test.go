package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// TestReadersTakeTurns: many concurrent requests on one connection, some of
// which give up early, all get their own response or their deadline; the
// reading passes from caller to caller without ever stalling.
func TestReadersTakeTurns(t *testing.T) {
	h := &mapHandler{}
	for i := range 100 {
		h.ServePeer(&Request{Op: OpPut, Key: fmt.Sprint(i), Value: []byte(fmt.Sprint("v", i))})
	}
	f := serve(t, h)
	c := f.client(t)
	cn, _, err := c.connect(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 20 {
		wg.Go(func() {
			for i := range 50 {
				key := (g*50 + i) % 100
				d := 5 * time.Second
				impatient := i%7 == 0
				if impatient {
					d = time.Microsecond // gives up at once, maybe while reading
				}
				ctx, cancel := context.WithTimeout(context.Background(), d)
				resp, err := cn.roundTrip(ctx, &Request{Op: OpGet, Key: fmt.Sprint(key)})
				cancel()
				switch {
				case impatient && errors.Is(err, context.DeadlineExceeded):
				case err != nil:
					errs <- fmt.Errorf("key %d: %v", key, err)
				case string(resp.Value) != fmt.Sprint("v", key):
					errs <- fmt.Errorf("key %d: got %q", key, resp.Value)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cn.mu.Lock()
	left := len(cn.pending)
	cn.mu.Unlock()
	if left != 0 {
		t.Errorf("%d requests still pending", left)
	}
}

// TestTimeoutInsideFrame: a reader that times out while a response frame is
// half received leaves it for the next reader; the connection survives.
func TestTimeoutInsideFrame(t *testing.T) {
	secret := cluster.NewSecret()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverTLS := peerTLS(t, "server", secret)
	release := make(chan struct{})
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		c := tls.Server(raw, serverTLS)
		br := bufio.NewReader(c)
		if readPreamble(br) != nil {
			return
		}
		fr, fw := newFrameReader(), newFrameWriter()
		var body []byte
		for {
			if body, err = readFrame(br, body); err != nil {
				return
			}
			req, _ := fr.request(body)
			out, _ := fw.response(&Response{ID: req.ID, Value: []byte("value for " + req.Key)})
			if req.Key == "split" {
				c.Write(out[:6]) // the header and a little of the body
				<-release
				c.Write(out[6:])
				continue
			}
			c.Write(out)
		}
	}()
	c := NewClient(ln.Addr().String(), peerTLS(t, "client", secret), nil, nil)
	defer c.Close()
	cn, _, err := c.connect(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cn.roundTrip(ctxTimeout(t, 50*time.Millisecond), &Request{Op: OpGet, Key: "split"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("split response: %v, want DeadlineExceeded", err)
	}
	close(release)
	resp, err := cn.roundTrip(ctxTimeout(t, 5*time.Second), &Request{Op: OpGet, Key: "next"})
	if err != nil || string(resp.Value) != "value for next" {
		t.Fatalf("after a torn read: %q, %v", resp.Value, err)
	}
}

// TestWriteDeadlineAfterIdle: on a connection idle for longer than the
// server's write timeout, a response too large for the server's write buffer
// and a burst of pipelined responses both arrive: each write to the
// connection gets its own deadline, not the one left from the last flush.
func TestWriteDeadlineAfterIdle(t *testing.T) {
	h := &mapHandler{}
	h.ServePeer(&Request{Op: OpPut, Key: "big", Value: make([]byte, 40<<10)})
	h.ServePeer(&Request{Op: OpPut, Key: "small", Value: []byte("v")})
	f := serve(t, h)
	f.srv.writeTimeout = 50 * time.Millisecond
	c := f.client(t)
	cn, _, err := c.connect(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	get := func(key string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cn.roundTrip(ctx, &Request{Op: OpGet, Key: key})
		return err
	}
	if err := get("small"); err != nil { // a flush sets a deadline...
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // ...which passes while the connection is idle
	if err := get("big"); err != nil {
		t.Fatalf("a 40 KiB response after idling: %v", err)
	}
	time.Sleep(150 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if err := get("big"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("pipelined responses after idling: %v", err)
		break
	}
}
