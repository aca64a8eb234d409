package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// While it serves, the runner prints each node's resumption rate over the
// last minute, from the node's /status, as one line:
//
//	rates node-1=97% (35/36) node-2=100% (12/12) node-3=-
//
// <name>=<rate>% (<resumed>/<handshakes>) for a node that had handshakes,
// "-" for one that had none, "?" for one whose status did not answer (it is
// down, or too busy). The rate is rounded down, so 100% means every one. A
// line is printed at once, then whenever it would differ from the last.
const (
	ratesInterval = 5 * time.Second // how often the runner asks
	ratesTimeout  = 3 * time.Second // for each node to answer
)

// ratesReporter polls the nodes' status until stopped.
type ratesReporter struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// reportRates starts polling targets, which the runner's certificate pool
// authenticates, and printing rates lines to out.
func reportRates(targets []target, roots *x509.CertPool, out io.Writer) *ratesReporter {
	ctx, cancel := context.WithCancel(context.Background())
	r := &ratesReporter{cancel: cancel, done: make(chan struct{})}
	// No session cache: the runner's polls create no sessions on the nodes.
	// Keep-alive: one handshake per node, not one per poll, so that the
	// runner barely touches the rates it reports.
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, ServerName: checkServerName},
		MaxIdleConnsPerHost: 1,
	}
	client := &http.Client{Transport: tr, Timeout: ratesTimeout}
	go func() {
		defer close(r.done)
		defer tr.CloseIdleConnections()
		t := time.NewTicker(ratesInterval)
		defer t.Stop()
		last := ""
		for {
			if line := pollRates(ctx, client, targets); line != last && ctx.Err() == nil {
				fmt.Fprintln(out, line)
				last = line
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// stop stops the reporter and waits for it.
func (r *ratesReporter) stop() {
	r.cancel()
	<-r.done
}

// pollRates asks every target at once and returns the rates line.
func pollRates(ctx context.Context, client *http.Client, targets []target) string {
	rates := make([]string, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			rates[i] = t.name + "=" + nodeRate(ctx, client, t)
		})
	}
	wg.Wait()
	return "rates " + strings.Join(rates, " ")
}

// nodeRate returns t's rate as the rates line shows it.
func nodeRate(ctx context.Context, client *http.Client, t target) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+t.addr+"/status?format=json", nil)
	if err != nil {
		return "?"
	}
	resp, err := client.Do(req)
	if err != nil {
		return "?"
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so that the connection is reused
		resp.Body.Close()
	}()
	var status struct {
		LastMinute struct {
			Handshakes uint64 `json:"handshakes"`
			Resumed    uint64 `json:"resumed"`
		} `json:"last_minute"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&status) != nil {
		return "?"
	}
	lm := status.LastMinute
	if lm.Handshakes == 0 {
		return "-"
	}
	return fmt.Sprintf("%d%% (%d/%d)", lm.Resumed*100/lm.Handshakes, lm.Resumed, lm.Handshakes)
}
