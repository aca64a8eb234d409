//go:build unix

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHandCommands runs the commands the runner prints for people, as they
// are printed: openssl resumes node-1's session on node-2 in both TLS
// versions, curl gets an answer, the command that adds a node adds one, and
// the kill command names node-2's process.
func TestHandCommands(t *testing.T) {
	p, nodes := startCluster(t, 3)
	var commands []string
	for _, line := range p.output() {
		if cmd, ok := strings.CutPrefix(line, "  "); ok {
			commands = append(commands, cmd)
		}
	}
	find := func(re string) []string {
		t.Helper()
		var found []string
		for _, c := range commands {
			if regexp.MustCompile(re).MatchString(c) {
				found = append(found, c)
			}
		}
		if len(found) == 0 {
			t.Fatalf("no command matching %s in\n%s", re, strings.Join(commands, "\n"))
		}
		return found
	}

	t.Run("openssl", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			if os.Getenv("SESSIONMESH_REQUIRE_OPENSSL") != "" {
				t.Fatal("openssl not found, and SESSIONMESH_REQUIRE_OPENSSL is set")
			}
			t.Skip("openssl not found")
		}
		cmds := find(`openssl s_client`)
		if len(cmds) != 2 {
			t.Fatalf("%d openssl commands, want 2", len(cmds))
		}
		// The session file is in the runner's private directory.
		if strings.Contains(cmds[0], "/tmp/sessionmesh-session.pem") {
			t.Errorf("the session file is at a fixed, shared path: %s", cmds[0])
		}
		for _, v := range []struct{ flag, name string }{{"", "TLSv1.3"}, {"-tls1_2", "TLSv1.2"}} {
			var out [2]string
			for i, c := range cmds {
				if v.flag != "" {
					c = strings.Replace(c, "openssl s_client", "openssl s_client "+v.flag, 1)
				}
				out[i] = shell(t, c)
			}
			for _, want := range []string{"New, " + v.name, "node: node-1", "resumed: no"} {
				if !strings.Contains(out[0], want) {
					t.Errorf("%s, first command: no %q in\n%s", v.name, want, out[0])
				}
			}
			for _, want := range []string{"Reused, " + v.name, "node: node-2", "resumed: yes"} {
				if !strings.Contains(out[1], want) {
					t.Errorf("%s, second command: no %q in\n%s", v.name, want, out[1])
				}
			}
		}
	})

	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl not found")
		}
		cmds := find(`^curl `)
		out := shell(t, cmds[0])
		for _, want := range []string{"node: node-1", "tls: TLSv1.3", "resumed: no"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", cmds[0], want, out)
			}
		}
	})

	t.Run("http2", func(t *testing.T) {
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"},
			ForceAttemptHTTP2: true,
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Get("https://" + nodes["node-3"].tls + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Proto != "HTTP/2.0" || !strings.Contains(string(body), "http: HTTP/2.0") {
			t.Errorf("protocol %s, answer %q; want HTTP/2.0", resp.Proto, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q, want text/plain", ct)
		}
	})

	t.Run("watch", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl not found")
		}
		status := shell(t, find(`^curl .*/status\?format=json`)[0])
		if !strings.Contains(status, `"node": "node-1"`) {
			t.Errorf("status: no node-1 in\n%s", status)
		}
		metrics := shell(t, find(`^curl .*/metrics`)[0])
		if !strings.Contains(metrics, `sessionmesh_handshakes_total{result="resumed",version="TLS1.3"}`) {
			t.Errorf("metrics: no resumed TLS 1.3 handshakes in\n%s", metrics)
		}
	})

	t.Run("visits", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl not found")
		}
		visits := find(`^curl .*/visits$`)
		logout := find(`^curl .* -X POST .*/logout$`)[0]
		if len(visits) != 3 {
			t.Fatalf("%d visit commands, want 3", len(visits))
		}
		for round := range 2 {
			for i, c := range visits {
				want := fmt.Sprintf(`{"node":"node-%d","visits":%d}`, i+1, 3*round+i+1)
				if got := strings.TrimSpace(shell(t, c)); got != want {
					t.Errorf("%s: %s, want %s", c, got, want)
				}
			}
		}
		shell(t, logout)
		if got := strings.TrimSpace(shell(t, visits[2])); got != `{"node":"node-3","visits":1}` {
			t.Errorf("after logout: %s, want visit 1", got)
		}
	})

	t.Run("probe", func(t *testing.T) {
		c := find(`^go run \./cmd/demo probe `)[0]
		out := shell(t, strings.Replace(c, "go run ./cmd/demo", demoBin, 1))
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 9 {
			t.Fatalf("%d lines, want 9 (3 × 3 pairs):\n%s", len(lines), out)
		}
		for _, l := range lines {
			if !regexp.MustCompile(`^probe \S+ -> \S+: Reused TLSv1\.3$`).MatchString(l) {
				t.Errorf("%q: want Reused TLSv1.3", l)
			}
		}
	})

	t.Run("kill", func(t *testing.T) {
		c := find(`^kill -9 `)[0]
		if want := "kill -9 " + strconv.Itoa(nodes["node-2"].pid) + " "; !strings.HasPrefix(c, want) {
			t.Errorf("%q does not start with %q", c, want)
		}
	})

	t.Run("add a node", func(t *testing.T) {
		c := find(`^SESSIONMESH_SECRET_SOCKET=`)[0]
		m := regexp.MustCompile(`^SESSIONMESH_SECRET_SOCKET=(\S+) go run \./cmd/demo node -join (\S+)$`).FindStringSubmatch(c)
		if m == nil {
			t.Fatalf("unexpected command %q", c)
		}
		if m[2] != nodes["node-1"].gossip {
			t.Errorf("%q joins %s, not node-1's gossip address %s", c, m[2], nodes["node-1"].gossip)
		}
		// The runner gives the secret through a socket in a directory only
		// this user can enter; no file in it holds the secret.
		dir := filepath.Dir(m[1])
		if fi, err := os.Stat(dir); err != nil || fi.Mode() != 0o700|os.ModeDir {
			t.Errorf("%s: mode %v (%v), want drwx------", dir, fi.Mode(), err)
		}
		secret, err := askSecret(m[1])
		if err != nil {
			t.Fatal(err)
		}
		secret = strings.TrimSpace(secret)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && strings.Contains(string(b), secret) {
				t.Errorf("%s holds the secret", e.Name())
			}
		}
		if strings.Contains(strings.Join(p.output(), "\n"), secret) {
			t.Error("the secret is on the runner's standard output")
		}
		// The command with the demo built by the tests in place of go run.
		extra := startProc(t, testEnv("SESSIONMESH_SECRET_SOCKET="+m[1]), "node", "-join", m[2])
		deadline := time.Now().Add(startTimeout)
		added := parseNodeLine(t, extra.expect(`^node .*$`, deadline)[0])
		extra.expect(`^ring \S+ nodes=4 peers=3$`, deadline)
		runnerNodes := []string{"node-1", "node-2", "node-3"}
		expectEach(p, `^ring %s nodes=4 .*$`, runnerNodes, deadline)
		pairs := [][2]demoNode{{nodes["node-1"], added}, {added, nodes["node-3"]}}
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			for _, pair := range pairs {
				resumed, err := resumeAcross(pair[0], pair[1], version)
				if err != nil || !resumed {
					t.Errorf("%s -> %s (%s): resumed=%v err=%v", pair[0].name, pair[1].name, versionName(version), resumed, err)
				}
			}
		}
		// A graceful stop: the node leaves, and the others' rings shrink.
		extra.cmd.Process.Signal(syscall.SIGTERM)
		if code := extra.wait(exitTimeout); code != 0 {
			t.Errorf("added node: exit status %d after SIGTERM\n%s", code, extra.dump())
		}
		expectEach(p, `^ring %s nodes=3 .*$`, runnerNodes, deadline)
	})

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(exitTimeout); code != 0 {
		t.Errorf("runner exit status %d after SIGTERM, want 0\n%s", code, p.dump())
	}
}

// shell runs a printed command line with sh and returns its standard output.
func shell(t *testing.T, line string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Env = testEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", line, err, out, stderr.String())
	}
	return string(out)
}

// expectEach reads p's lines until, for each name, one line matching the
// regexp that format makes of it ("%s" stands for the name).
func expectEach(p *proc, format string, names []string, deadline time.Time) {
	p.t.Helper()
	alt := make([]string, len(names))
	for i, n := range names {
		alt[i] = regexp.QuoteMeta(n)
	}
	re := strings.Replace(format, "%s", "("+strings.Join(alt, "|")+")", 1)
	seen := make(map[string]bool)
	for len(seen) < len(names) {
		seen[p.expect(re, deadline)[1]] = true
	}
}
