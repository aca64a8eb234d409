//go:build unix

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKillOneNode: after one node process is SIGKILLed, the runner says so
// and keeps running, and the other nodes still serve and resume each other's
// sessions in both directions. SIGTERM then stops the runner and every node.
func TestKillOneNode(t *testing.T) {
	p, nodes := startCluster(t, 3)
	victim := nodes["node-2"]
	if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(startTimeout)
	p.expect(fmt.Sprintf(`^down node-2 pid=%d: signal: killed \(2 of the runner's 3 nodes still running\)$`, victim.pid), deadline)
	// Once their rings have dropped the dead node, the survivors agree on
	// who owns which session again.
	expectEach(p, `^ring %s nodes=2 .*$`, []string{"node-1", "node-3"}, deadline)

	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, pair := range [][2]string{{"node-1", "node-3"}, {"node-3", "node-1"}} {
			from, to := nodes[pair[0]], nodes[pair[1]]
			resumed, err := resumeAcross(from, to, version)
			if err != nil {
				t.Fatalf("%s -> %s (%s): %v", from.name, to.name, versionName(version), err)
			}
			if !resumed {
				t.Errorf("%s -> %s (%s): not resumed", from.name, to.name, versionName(version))
			}
		}
	}
	if !p.running() {
		t.Fatalf("the runner exited after one node died\n%s", p.dump())
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(exitTimeout); code != 0 {
		t.Errorf("runner exit status %d after SIGTERM, want 0\n%s", code, p.dump())
	}
	for _, n := range nodes {
		waitGone(t, n.pid, 10*time.Second)
	}
}

// TestKillKeepsSessions: in a 5-node cluster, sessions made on every node
// before one node process is SIGKILLed still resume on the survivors, at
// once (before the cluster has noticed) and after; no handshake fails.
func TestKillKeepsSessions(t *testing.T) {
	p, nodes := startCluster(t, 5)
	var survivors []demoNode
	type session struct {
		cfg   *tls.Config
		state *tls.ClientSessionState // as made, before the kill
		from  string
	}
	var sessions []session
	for i := range 5 {
		n := nodes[fmt.Sprintf("node-%d", i+1)]
		if n.name != "node-3" {
			survivors = append(survivors, n)
		}
		for j := range 8 {
			cfg := &tls.Config{
				InsecureSkipVerify: true, ServerName: "localhost",
				MinVersion:         []uint16{tls.VersionTLS12, tls.VersionTLS13}[j%2],
				MaxVersion:         []uint16{tls.VersionTLS12, tls.VersionTLS13}[j%2],
				ClientSessionCache: tls.NewLRUClientSessionCache(4),
			}
			if _, err := fetch(cfg, n); err != nil {
				t.Fatal(err)
			}
			state, _ := cfg.ClientSessionCache.Get("localhost")
			sessions = append(sessions, session{cfg, state, n.name})
		}
	}
	// Each session's record is written at once, and its replica right
	// after the handshake; wait until every node reports that every copy
	// it queued has been sent, so that the kill loses none in flight.
	newObserver(t).waitCopiesSent(nodes)
	victim := nodes["node-3"]
	if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(startTimeout)
	p.expect(fmt.Sprintf(`^down node-3 pid=%d: signal: killed \(4 of the runner's 5 nodes still running\)$`, victim.pid), deadline)

	offer := func(when string) {
		resumed := 0
		for i, s := range sessions {
			// Every connection replaces the cached session; offer the one
			// made before the kill each time.
			s.cfg.ClientSessionCache.Put("localhost", s.state)
			ok, err := fetch(s.cfg, survivors[i%len(survivors)])
			if err != nil {
				t.Fatalf("%s: session %d from %s: handshake failed: %v", when, i, s.from, err)
			}
			if ok {
				resumed++
			}
		}
		t.Logf("%s: %d of %d sessions resumed", when, resumed, len(sessions))
		if resumed*100 < 99*len(sessions) {
			t.Errorf("%s: %d of %d sessions resumed, want at least 99%%", when, resumed, len(sessions))
		}
	}
	offer("right after the kill")
	expectEach(p, `^ring %s nodes=4 .*$`, []string{"node-1", "node-2", "node-4", "node-5"}, deadline)
	offer("after the cluster noticed")
}

// resumeAcross makes a session on from and offers it to to, with a fresh Go
// client limited to one TLS version, and reports whether to resumed it. The
// certificate is the runner's, which the test does not have; resumption is
// what is under test here, not authentication.
func resumeAcross(from, to demoNode, version uint16) (bool, error) {
	cfg := &tls.Config{
		InsecureSkipVerify: true,
		ServerName:         "localhost",
		MinVersion:         version,
		MaxVersion:         version,
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	if _, err := fetch(cfg, from); err != nil {
		return false, err
	}
	return fetch(cfg, to)
}

// fetch sends GET / to n over a new TLS connection and reads the whole
// answer (a TLS 1.3 client takes its ticket only when it reads), which must
// come from n.
func fetch(cfg *tls.Config, n demoNode) (resumed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{}}
	nc, err := d.DialContext(ctx, "tcp", n.tls)
	if err != nil {
		return false, err
	}
	c := nc.(*tls.Conn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"); err != nil {
		return false, err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return false, err
	}
	if !regexp.MustCompile(`(?m)^node: ` + regexp.QuoteMeta(n.name) + `$`).Match(b) {
		return false, fmt.Errorf("answer not from %s: %q", n.name, b)
	}
	resumed = c.ConnectionState().DidResume
	if want := map[bool]string{true: "resumed: yes", false: "resumed: no"}[resumed]; !strings.Contains(string(b), want) {
		return false, fmt.Errorf("DidResume is %v but the node says otherwise: %q", resumed, b)
	}
	return resumed, nil
}
