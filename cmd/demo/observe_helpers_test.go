//go:build unix

package main

import (
	"bufio"
	"github.com/sessionmesh/sessionmesh/status"

	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// observer asks demo nodes for their /status and /metrics, over one kept-
// alive connection per node and without a session cache, so that asking
// creates no session and barely changes the counters it reads.
type observer struct {
	t      *testing.T
	client *http.Client
}

func newObserver(t *testing.T) *observer {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}}
	t.Cleanup(tr.CloseIdleConnections)
	return &observer{t: t, client: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// get returns the body of GET path on n, which must answer 200 with a
// Content-Type that starts with contentType.
func (o *observer) get(n demoNode, path, accept, contentType string) string {
	o.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+n.tls+path, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		o.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		o.t.Fatalf("GET %s on %s: %s\n%s", path, n.name, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, contentType) {
		o.t.Fatalf("GET %s on %s: Content-Type %q, want %s", path, n.name, ct, contentType)
	}
	return string(body)
}

// status returns n's /status as JSON, decoded.
func (o *observer) status(n demoNode) status.Report {
	o.t.Helper()
	var r status.Report
	if err := json.Unmarshal([]byte(o.get(n, "/status?format=json", "", "application/json")), &r); err != nil {
		o.t.Fatalf("%s: /status JSON: %v", n.name, err)
	}
	return r
}

// metrics returns n's metrics, by series as the text format writes them
// (`name{label="value",...}`), for the sessionmesh_ series.
func (o *observer) metrics(n demoNode) map[string]float64 {
	o.t.Helper()
	out := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(o.get(n, "/metrics", "", "text/plain")))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "sessionmesh_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			o.t.Fatalf("%s: metrics line %q: %v", n.name, line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// waitCopiesSent waits until no node has copies of records queued or on
// their way to other members: every replica is written.
func (o *observer) waitCopiesSent(nodes map[string]demoNode) {
	o.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for _, n := range nodes {
		for {
			pending := o.status(n).Counters.Store.CopiesPending
			if pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				o.t.Fatalf("%s still has %d copies pending after %v", n.name, pending, startTimeout)
			}
			time.Sleep(20 * time.Millisecond) // polling a condition the node offers no signal for
		}
	}
}

// offerForged makes a session on from, then offers it to to with its ticket
// replaced by forge's result, and fails the test if to resumes it.
func offerForged(t *testing.T, from, to demoNode, version uint16, forge func(ticket []byte) []byte) {
	t.Helper()
	cfg := &tls.Config{
		InsecureSkipVerify: true, ServerName: "localhost",
		MinVersion: version, MaxVersion: version,
		ClientSessionCache: tls.NewLRUClientSessionCache(1),
	}
	if _, err := fetch(cfg, from); err != nil {
		t.Fatal(err)
	}
	s, ok := cfg.ClientSessionCache.Get("localhost")
	if !ok {
		t.Fatalf("%s gave no session", from.name)
	}
	ticket, state, err := s.ResumptionState()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := tls.NewResumptionState(forge(ticket), state)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientSessionCache.Put("localhost", forged)
	resumed, err := fetch(cfg, to)
	if err != nil {
		t.Fatalf("a forged ticket: the handshake failed: %v", err)
	}
	if resumed {
		t.Fatalf("%s resumed a forged ticket", to.name)
	}
}

// randomTicket forges a ticket nobody issued: random bytes of the length
// of a real one.
func randomTicket(ticket []byte) []byte {
	b := make([]byte, len(ticket))
	rand.Read(b)
	return b
}

// expectRates reads rates lines until one says name has had at least
// resumed resumed handshakes in the last minute, and returns that line.
func expectRates(p *proc, name string, resumed uint64, deadline time.Time) string {
	p.t.Helper()
	for {
		m := p.expect(fmt.Sprintf(`^rates .*\b%s=\d+%% \((\d+)/\d+\).*$`, name), deadline)
		if n, _ := strconv.ParseUint(m[1], 10, 64); n >= resumed {
			return m[0]
		}
	}
}

// runProbeCmd runs "demo probe args..." to its end and returns its output lines
// and exit status.
func runProbeCmd(t *testing.T, args ...string) ([]string, int) {
	t.Helper()
	p := startProc(t, testEnv(), append([]string{"probe"}, args...)...)
	code := p.wait(startTimeout)
	if code != 0 && code != 1 {
		t.Fatalf("probe exit status %d\n%s", code, p.dump())
	}
	return p.output(), code
}
