//go:build unix

package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh"
)

// A visitor is a browser: one cookie jar across every node (the ports of
// 127.0.0.1), as curl -b jar -c jar is.
type visitor struct {
	t      *testing.T
	client *http.Client
	count  int // the visits counted so far
}

func newVisitor(t *testing.T) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, client: &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"},
			DisableKeepAlives: true, // each visit a connection of its own, as curl's
		},
	}}
}

// visit asks n for /visits and checks that the count went on by one.
func (v *visitor) visit(n demoNode) {
	v.t.Helper()
	resp, err := v.client.Get("https://" + n.tls + "/visits")
	if err != nil {
		v.t.Fatalf("visit %d on %s: %v", v.count+1, n.name, err)
	}
	defer resp.Body.Close()
	var got struct {
		Node   string
		Visits int
		Error  string
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		v.t.Fatalf("visit %d on %s: %s %+v %v", v.count+1, n.name, resp.Status, got, err)
	}
	v.count++
	if got.Node != n.name || got.Visits != v.count {
		v.t.Fatalf("visit on %s: %s counted %d, want %d", n.name, got.Node, got.Visits, v.count)
	}
}

// round visits each node in turn.
func (v *visitor) round(nodes []demoNode) {
	v.t.Helper()
	for _, n := range nodes {
		v.visit(n)
	}
}

func (v *visitor) logout(n demoNode) {
	v.t.Helper()
	resp, err := v.client.Post("https://"+n.tls+"/logout", "", nil)
	if err != nil {
		v.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		v.t.Fatalf("logout on %s: %s", n.name, resp.Status)
	}
	v.count = 0
}

// restart starts the killed node again, by hand, under its name and on its
// HTTPS address, joining one of the others, with the cluster's secret, and
// waits until every running node has it on its ring.
func restart(t *testing.T, secretEnv string, victim demoNode, others []demoNode) *proc {
	t.Helper()
	back := startProc(t, testEnv(secretEnv), "node", "-join", others[0].gossip, "-name", victim.name, "-addr", victim.tls)
	back.expect(fmt.Sprintf(`^node %s .*$`, regexp.QuoteMeta(victim.name)), time.Now().Add(startTimeout))
	waitRing(t, append(slices.Clone(others), victim), len(others)+1)
	return back
}

// waitRing waits until each of nodes has n members on its ring, as its
// status says (nodes restarted by hand print to their own output, not the
// runner's).
func waitRing(t *testing.T, nodes []demoNode, n int) {
	t.Helper()
	o := newObserver(t)
	deadline := time.Now().Add(startTimeout)
	for _, node := range nodes {
		for o.status(node).Ring.Nodes != n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: ring of %d members, want %d", node.name, o.status(node).Ring.Nodes, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestVisitsSurviveKills: in a 3-node demo, a visitor's count goes on by
// one whichever node a visit lands on, through the kill -9 of each node in
// turn (right after it, and once the cluster has noticed), its return under
// the same name and the rebalance that sets off; after logout it starts
// again at 1, everywhere.
func TestVisitsSurviveKills(t *testing.T) {
	testVisitsSurviveKills(t, 3, []string{"node-1", "node-2", "node-3"})
}

// TestVisitsSurviveKill5: the same in a 5-node demo, killing one node.
func TestVisitsSurviveKill5(t *testing.T) {
	testVisitsSurviveKills(t, 5, []string{"node-4"})
}

func testVisitsSurviveKills(t *testing.T, size int, victims []string) {
	// The secret, so that nodes restarted by hand can join when the
	// runner (and its secret socket) has gone with its last node.
	secretEnv := "SESSIONMESH_SECRET=" + sessionmesh.EncodeSecret(sessionmesh.NewSecret())
	_, byName := startClusterEnv(t, testEnv(secretEnv), size)
	var nodes []demoNode
	for i := range size {
		nodes = append(nodes, byName[fmt.Sprintf("node-%d", i+1)])
	}
	v := newVisitor(t)
	v.round(nodes)
	for _, name := range victims {
		i := slices.IndexFunc(nodes, func(n demoNode) bool { return n.name == name })
		victim := nodes[i]
		others := slices.Delete(slices.Clone(nodes), i, i+1)
		if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		v.round(others) // before the cluster notices
		waitRing(t, others, size-1)
		v.round(others) // after
		back := restart(t, secretEnv, victim, others)
		nodes[i] = parseNodeLine(t, back.output()[0])
		v.round(nodes) // with the node back, and records moving to it
	}
	if v.count != size+len(victims)*(3*size-2) {
		t.Fatalf("counted %d visits", v.count)
	}
	v.logout(nodes[size-1])
	v.round(nodes)
}
