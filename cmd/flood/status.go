package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// report is the part of a member's status JSON (package status,
// GET /status?format=json) that the watch reads.
type report struct {
	Members []struct {
		Name  string `json:"name"`
		State string `json:"state"` // alive or suspect; a member declared dead is not listed
	} `json:"members"`
	Cluster struct {
		Alive   int `json:"alive"`
		Suspect int `json:"suspect"`
		Dead    int `json:"dead"`
	} `json:"cluster"`
	Ring *struct { // nil in ticket mode
		Nodes          int `json:"nodes"`
		PeersConnected int `json:"peers_connected"`
	} `json:"ring"`
	Sessions *struct {
		Held     int   `json:"held"`
		Bytes    int64 `json:"bytes"`
		MaxBytes int64 `json:"max_bytes"`
	} `json:"sessions"`
	Counters struct {
		Misses map[string]uint64 `json:"resumption_misses"` // offered sessions not resumed, by reason, since the start
	} `json:"counters"`
}

// whole reports whether the member that made r sees a cluster of n members,
// every one alive, and has them all on its ring with a data connection to
// each other one.
func (r report) whole(n int) bool {
	if len(r.Members) != n || r.Cluster.Alive != n || r.Cluster.Suspect+r.Cluster.Dead > 0 {
		return false
	}
	return r.Ring == nil || r.Ring.Nodes == n && r.Ring.PeersConnected == n-1
}

// statusClient asks members for their status and metrics, over a kept-alive
// connection to each, so that a flood of the HTTPS port that fills the
// server's connection limit does not blind the watch.
type statusClient struct {
	hc *http.Client
}

// statusTimeout bounds each request: a member that takes longer is counted
// as not answering.
const statusTimeout = 2 * time.Second

func newStatusClient() *statusClient {
	return &statusClient{hc: &http.Client{
		Timeout: statusTimeout,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, ServerName: serverName},
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     10 * time.Second, // the demo's servers keep a connection 30 s
		},
	}}
}

// close closes the kept-alive connections.
func (c *statusClient) close() { c.hc.CloseIdleConnections() }

func (c *statusClient) get(ctx context.Context, addr, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "https://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return resp, nil
}

// report asks the member at addr for its status.
func (c *statusClient) report(ctx context.Context, addr string) (report, error) {
	var r report
	resp, err := c.get(ctx, addr, "/status?format=json")
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	return r, json.NewDecoder(resp.Body).Decode(&r)
}

// rejected asks the member at addr how much traffic it refused, by kind
// (the metric sessionmesh_rejected_total).
func (c *statusClient) rejected(ctx context.Context, addr string) (map[string]uint64, error) {
	resp, err := c.get(ctx, addr, "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseRejected(resp.Body)
}

// parseRejected reads the sessionmesh_rejected_total series of Prometheus's
// text format:
//
//	sessionmesh_rejected_total{kind="gossip_packet_unauthenticated"} 1.234e+06
func parseRejected(r io.Reader) (map[string]uint64, error) {
	const prefix = `sessionmesh_rejected_total{kind="`
	out := make(map[string]uint64)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		kind, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("malformed metric line %q", sc.Text())
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed metric line %q", sc.Text())
		}
		out[kind] = uint64(v)
	}
	return out, sc.Err()
}
