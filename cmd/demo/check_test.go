//go:build unix

package main

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The contract's lines (see the package doc and ../../../shared/design.md).
var (
	nodeRe  = regexp.MustCompile(`^node (\S+) pid=(\d+) tls=(\S+:\d+) gossip=(\S+:\d+)( data=(\S+:\d+))?( \S+=\S+)*$`)
	readyRe = regexp.MustCompile(`^ready (\d+) nodes$`)
	checkRe = regexp.MustCompile(`^check (\S+) -> (\S+): (Reused|New|Failed) (TLSv1\.[23])$`)
)

// demoNode is what a node line says.
type demoNode struct {
	name, tls, gossip, data string // data: none in ticket mode
	pid                     int
}

func parseNodeLine(t *testing.T, line string) demoNode {
	t.Helper()
	m := nodeRe.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a node line: %q", line)
	}
	pid, _ := strconv.Atoi(m[2])
	return demoNode{name: m[1], pid: pid, tls: m[3], gossip: m[4], data: m[6]}
}

// TestCheck: "demo -check" with 3 nodes prints exactly the contract's lines:
// in cache and ticket mode every cross-node resumption is reused in both TLS
// versions and it exits 0; with resumption off every one is new and it
// exits 1.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		args   []string
		result string // of every check line
		last   string
		code   int
	}{
		{"cache", nil, "Reused", "check ok", 0},
		{"tickets", []string{"-ticket-rotation", "2s"}, "Reused", "check ok", 0}, // keys rotate during the check
		{"off", nil, "New", "check failed", 1},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p := startProc(t, testEnv(), append([]string{"-check", "-resumption", tc.mode}, tc.args...)...)
			if code := p.wait(startTimeout); code != tc.code {
				t.Fatalf("exit status %d, want %d\n%s", code, tc.code, p.dump())
			}
			lines := p.output()
			if len(lines) != 1+3+1+12+1 {
				t.Fatalf("%d lines, want 18 (the runner's pid, 3 node, ready, 12 check, %s)\n%s", len(lines), tc.last, p.dump())
			}
			if want := fmt.Sprintf("demo pid=%d", p.cmd.Process.Pid); lines[0] != want {
				t.Errorf("first line %q, want %q", lines[0], want)
			}
			lines = lines[1:]

			names := make(map[string]bool)
			for _, line := range lines[:3] {
				n := parseNodeLine(t, line)
				if names[n.name] {
					t.Errorf("node %s announced twice", n.name)
				}
				names[n.name] = true
			}
			if m := readyRe.FindStringSubmatch(lines[3]); m == nil || m[1] != "3" {
				t.Errorf("line 4 is %q, want \"ready 3 nodes\"", lines[3])
			}

			seen := make(map[string]bool)
			for _, line := range lines[4:16] {
				m := checkRe.FindStringSubmatch(line)
				if m == nil {
					t.Errorf("not a check line: %q", line)
					continue
				}
				from, to, result, version := m[1], m[2], m[3], m[4]
				if !names[from] || !names[to] || from == to {
					t.Errorf("%q: not a pair of distinct announced nodes", line)
				}
				if result != tc.result {
					t.Errorf("%q: want %s", line, tc.result)
				}
				key := fmt.Sprint(from, to, version)
				if seen[key] {
					t.Errorf("%q: checked twice", line)
				}
				seen[key] = true
			}
			if len(seen) != 12 {
				t.Errorf("%d distinct checks, want 12 (6 ordered pairs × 2 versions)", len(seen))
			}
			if lines[16] != tc.last {
				t.Errorf("last line %q, want %q", lines[16], tc.last)
			}
		})
	}
}

// startCluster starts the runner with size nodes, without -check, and reads
// its output up to the end of the hand-test instructions. It returns the
// nodes by name.
func startCluster(t *testing.T, size int) (*proc, map[string]demoNode) {
	t.Helper()
	return startClusterWith(t, size)
}

// startClusterWith is startCluster with more of the runner's flags.
func startClusterWith(t *testing.T, size int, flags ...string) (*proc, map[string]demoNode) {
	t.Helper()
	return startClusterEnv(t, testEnv(), size, flags...)
}

// startClusterEnv is startClusterWith in the environment env.
func startClusterEnv(t *testing.T, env []string, size int, flags ...string) (*proc, map[string]demoNode) {
	t.Helper()
	p := startProc(t, env, append([]string{"-nodes", strconv.Itoa(size)}, flags...)...)
	deadline := time.Now().Add(startTimeout)
	nodes := make(map[string]demoNode)
	for range size {
		n := parseNodeLine(t, p.expect(`^node .*$`, deadline)[0])
		nodes[n.name] = n
	}
	p.expect(fmt.Sprintf(`^ready %d nodes$`, size), deadline)
	p.expect(`^check ok$`, deadline)
	p.expect("^"+regexp.QuoteMeta(servingLine)+"$", deadline)
	for i := range size {
		if _, ok := nodes[fmt.Sprintf("node-%d", i+1)]; !ok {
			t.Fatalf("no node line for node-%d\n%s", i+1, p.dump())
		}
	}
	return p, nodes
}
