//go:build unix

package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nodeServer is one of the example servers, on a free port.
type nodeServer struct {
	*proc
	addr string
}

var serverLine = regexp.MustCompile(`^(cache|ticket)-server \S+ port=(\d+)$`)

func startNodeServer(t *testing.T, script, sidecarAddr, cert, key string) *nodeServer {
	t.Helper()
	p := start(t, env(), "node", filepath.Join(nodeDir, script), "--port", "0", "--sidecar", sidecarAddr, "--cert", cert, "--key", key)
	l := p.line()
	m := serverLine.FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("%s printed %q, not its ready line", script, l)
	}
	return &nodeServer{proc: p, addr: "127.0.0.1:" + m[2]}
}

// nodeResumes has the Node.js client make a session on from and offer it to
// to, and returns its verdict line.
func nodeResumes(t *testing.T, from, to, version string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", filepath.Join(nodeDir, "client.js"), "--from", from, "--to", to, "--tls", version).CombinedOutput()
	if err != nil {
		t.Fatalf("client.js: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// opensslResumes makes a session on from with openssl s_client -sess_out
// and offers it to to with -sess_in; it returns the second's "New"/"Reused" line.
func opensslResumes(t *testing.T, from, to, version string) string {
	t.Helper()
	sess := filepath.Join(t.TempDir(), "sess.pem")
	run := func(addr string, sessArgs ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "openssl", append([]string{"s_client", "-connect", addr, "-servername", "localhost", version, "-ign_eof"}, sessArgs...)...)
		cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
		out, _ := cmd.CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "New, ") || strings.HasPrefix(l, "Reused, ") {
				return l
			}
		}
		t.Fatalf("openssl s_client %s: no New/Reused line:\n%s", addr, out)
		return ""
	}
	run(from, "-sess_out", sess)
	return run(to, "-sess_in", sess)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(startTimeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// TestNodeServersResume: three sidecars, and next to each a Node.js server
// that keeps its sessions in the cluster and one that takes its ticket key
// from it. A session made on each server resumes on every other, with the
// Node.js client and with openssl: TLS 1.2 through the cache, TLS 1.2 and
// 1.3 through the ticket key. After kill -9 of one sidecar, the servers of
// the other two go on resuming each other's sessions, old and new.
func TestNodeServersResume(t *testing.T) {
	t.Parallel()
	requireTool(t, "node", "openssl")
	sc := startCluster(t, 3)
	cert, key := certFiles(t)
	var caches, tickets []*nodeServer
	for _, s := range sc {
		caches = append(caches, startNodeServer(t, "cache-server.js", s.resp, cert, key))
		tickets = append(tickets, startNodeServer(t, "ticket-server.js", s.resp, cert, key))
	}
	type check struct {
		servers []*nodeServer
		version string
	}
	checks := []check{{caches, "TLSv1.2"}, {tickets, "TLSv1.2"}, {tickets, "TLSv1.3"}}
	for _, c := range checks {
		for i, from := range c.servers {
			for j, to := range c.servers {
				if i == j {
					continue
				}
				if got := nodeResumes(t, from.addr, to.addr, c.version); !strings.Contains(got, "Reused "+c.version) {
					t.Errorf("node client %s %d -> %d: %s", c.version, i, j, got)
				}
			}
			to := c.servers[(i+1)%len(c.servers)]
			flag := map[string]string{"TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}[c.version]
			if got := opensslResumes(t, from.addr, to.addr, flag); !strings.HasPrefix(got, "Reused, "+c.version) {
				t.Errorf("openssl %s %d -> %d: %s", c.version, i, i+1, got)
			}
		}
	}

	// A session made before the crash, on the first server.
	sess := filepath.Join(t.TempDir(), "before.pem")
	before := func(addr string, args ...string) string {
		cmd := exec.Command("openssl", append([]string{"s_client", "-connect", addr, "-servername", "localhost", "-tls1_2", "-ign_eof"}, args...)...)
		cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	before(caches[0].addr, "-sess_out", sess)

	sc[2].cmd.Process.Kill() // kill -9
	sc[2].exit()
	for _, c := range checks {
		for i, j := range [][2]int{{0, 1}, {1, 0}} {
			_ = i
			from, to := c.servers[j[0]], c.servers[j[1]]
			waitFor(t, fmt.Sprintf("%s %d -> %d resumes after the kill", c.version, j[0], j[1]), func() bool {
				return strings.Contains(nodeResumes(t, from.addr, to.addr, c.version), "Reused "+c.version)
			})
		}
	}
	if out := before(caches[1].addr, "-sess_in", sess); !strings.Contains(out, "Reused, TLSv1.2") {
		t.Errorf("a session made before the kill did not resume after it:\n%s", out)
	}
	for _, s := range append(caches[:2], tickets[:2]...) {
		if e := s.stderr.String(); e != "" {
			t.Logf("%s stderr: %s", s.addr, e)
		}
	}
}

// TestTicketKeySame: every sidecar answers the same 48-byte key.
func TestTicketKeySame(t *testing.T) {
	t.Parallel()
	requireTool(t, "redis-cli")
	sc := startCluster(t, 3)
	want := cli(t, sc[0].resp, "--no-raw", "SESSIONMESH.TICKETKEY")
	for _, s := range sc[1:] {
		if got := cli(t, s.resp, "--no-raw", "SESSIONMESH.TICKETKEY"); got != want {
			t.Errorf("%s answers another key", s.name)
		}
	}
}
