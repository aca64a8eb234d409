package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestH2Holders: against net/http's HTTP/2 server, streams whose window
// stays zero get headers but no body, until the server's WriteTimeout ends
// them, and the attack opens others.
func TestH2Holders(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	}))
	srv.EnableHTTP2 = true
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.StartTLS()
	defer srv.Close()
	from, _ := parseSources("127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	tl := newTally("streams")
	h2Holders(ctx, srv.Listener.Addr().String(), from, 2, 4, "/", tl)
	notes, _ := tl.results()
	if tl.sent.Load() <= 8 || tl.cut.Load() == 0 {
		t.Errorf("%d streams opened, %d ended by the server (%q); want the server to end some and more to open", tl.sent.Load(), tl.cut.Load(), notes)
	}
}

// TestMetricsAborts: requests abandoned over both protocols are counted.
func TestMetricsAborts(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	from, _ := parseSources("127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tl := newTally("requests")
	metricsAborts(ctx, srv.Listener.Addr().String(), from, 50, 1, "/metrics", tl)
	if notes, _ := tl.results(); tl.sent.Load() < 40 {
		t.Errorf("%d requests abandoned in a second (%q); want the HTTP/2 cancellations at least", tl.sent.Load(), notes)
	}
}
