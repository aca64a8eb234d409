package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// metricsAborts abandons requests for path until ctx is done: HTTP/1.1
// requests reset at once, h1PerSecond a second, and over h2Conns HTTP/2
// connections with a zero window, 32 streams each, all cancelled every
// 100 ms and opened again. Each abandoned response is a write that fails
// in the server; before promhttp's errors went to the debug level, each
// was a warning in the log (44,000 lines in 20 s).
func metricsAborts(ctx context.Context, addr string, from *sources, h1PerSecond, h2Conns int, path string, t *tally) {
	request := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, serverName)
	lim := rate.NewLimiter(rate.Limit(h1PerSecond), 1)
	h1 := func(ctx context.Context) {
		for lim.Wait(ctx) == nil {
			c, err := dialTLS(ctx, from, addr, "http/1.1")
			if err != nil {
				if ctx.Err() == nil {
					t.failed("HTTP/1.1 connect", err)
				}
				continue
			}
			c.Write([]byte(request))
			t.sent.Add(1)
			abort(c.NetConn())
		}
	}
	h2 := func(ctx context.Context) {
		for ctx.Err() == nil {
			h, err := dialH2(ctx, from, addr)
			if err != nil {
				if ctx.Err() == nil {
					t.failed("HTTP/2 connect", err)
					pause(ctx, 100*time.Millisecond)
				}
				continue
			}
			cancelLoop(ctx, h, 32, path, t)
		}
	}
	// Four goroutines make the HTTP/1.1 requests, which cost a handshake
	// each; one goroutine per HTTP/2 connection.
	var wg sync.WaitGroup
	wg.Go(func() { workers(ctx, 4, h1) })
	wg.Go(func() { workers(ctx, h2Conns, h2) })
	wg.Wait()
}

// cancelLoop opens streams requests for path on h, cancels them all every
// 100 ms and opens as many again, until the server or ctx closes h.
func cancelLoop(ctx context.Context, h *h2conn, streams int, path string, t *tally) {
	stop := closeWith(ctx, h.c)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- h.serve(func(uint32) {}) }()
	defer func() {
		h.c.Close()
		<-done
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var open []uint32
	for {
		for _, id := range open {
			if h.cancel(id) != nil {
				return
			}
			t.sent.Add(1)
		}
		open = open[:0]
		for range streams {
			id, err := h.get(path)
			if err != nil {
				return
			}
			open = append(open, id)
		}
		select {
		case <-tick.C:
		case err := <-done:
			done <- err // for the deferred wait
			if ctx.Err() == nil {
				t.cut.Add(1)
				t.failed("HTTP/2 connection", err)
			}
			return
		}
	}
}
