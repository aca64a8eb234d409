package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseNodeLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		line   string
		want   node
		isNode bool
		ok     bool
	}{
		{"cache mode", "node node-2 pid=4242 tls=127.0.0.1:1 gossip=127.0.0.1:2 data=127.0.0.1:3",
			node{name: "node-2", pid: 4242, tls: "127.0.0.1:1", gossip: "127.0.0.1:2", data: "127.0.0.1:3"}, true, true},
		{"ticket mode, and pairs to come", "node a pid=1 tls=h:1 gossip=h:2 future=yes",
			node{name: "a", pid: 1, tls: "h:1", gossip: "h:2"}, true, true},
		{"another line", "ring node-2 nodes=3 peers=2", node{}, false, true},
		{"the runner's", "demo pid=4241", node{}, false, true},
		{"no pid", "node a tls=h:1 gossip=h:2", node{}, true, false},
		{"no gossip", "node a pid=1 tls=h:1", node{}, true, false},
		{"not key=value", "node a pid=1 tls=h:1 gossip=h:2 junk", node{}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, isNode, err := parseNodeLine(tc.line)
			if n != tc.want || isNode != tc.isNode || (err == nil) != tc.ok {
				t.Errorf("parseNodeLine(%q) = %+v, %v, %v; want %+v, %v, ok %v", tc.line, n, isNode, err, tc.want, tc.isNode, tc.ok)
			}
		})
	}
}

func TestParseNewsAndReady(t *testing.T) {
	for _, tc := range []struct {
		line string
		want news
		ok   bool
	}{
		{"ring node-1 nodes=2 peers=1", news{name: "node-1", nodes: 2}, true},
		{"ring node-1 nodes=3 peers=2 key=00ff", news{name: "node-1", nodes: 3}, true},
		{"down node-2 pid=42: signal: killed (2 of the runner's 3 nodes still running)", news{name: "node-2", down: true}, true},
		{"rates node-1=97% (35/36) node-2=-", news{}, false},
		{"ring node-1 peers=1", news{}, false},
		{"", news{}, false},
	} {
		if n, ok := parseNews(tc.line); n != tc.want || ok != tc.ok {
			t.Errorf("parseNews(%q) = %+v, %v; want %+v, %v", tc.line, n, ok, tc.want, tc.ok)
		}
	}
	for line, want := range map[string]int{"ready 3 nodes": 3, "ready 12 nodes": 12, "ready nodes": 0, "ready 3 nodes now": 0, "check ok": 0} {
		if n, ok := parseReady(line); n != want || ok != (want > 0) {
			t.Errorf("parseReady(%q) = %d, %v; want %d", line, n, ok, want)
		}
	}
}

// TestReadNodes reads a saved demo output, in which node-2 was restarted:
// its last line counts.
func TestReadNodes(t *testing.T) {
	out := strings.Join([]string{
		"demo pid=10",
		"node node-1 pid=11 tls=127.0.0.1:1001 gossip=127.0.0.1:2001 data=127.0.0.1:3001",
		"node node-2 pid=12 tls=127.0.0.1:1002 gossip=127.0.0.1:2002 data=127.0.0.1:3002",
		"ready 2 nodes",
		"check ok",
		"down node-2 pid=12: signal: killed (1 of the runner's 2 nodes still running)",
		"node node-2 pid=13 tls=127.0.0.1:1003 gossip=127.0.0.1:2003 data=127.0.0.1:3003",
	}, "\n")
	path := filepath.Join(t.TempDir(), "demo.out")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []struct{ path, stdin string }{{path, ""}, {"-", out}} {
		nodes, err := readNodes(src.path, strings.NewReader(src.stdin))
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 2 || nodes[0].pid != 11 || nodes[1].pid != 13 || nodes[1].tls != "127.0.0.1:1003" {
			t.Errorf("readNodes(%s) = %+v; want node-1 and the restarted node-2", src.path, nodes)
		}
		s, err := newScene(nodes, "node-2")
		if err != nil || s.victim().pid != 13 || len(s.others()) != 1 || s.others()[0].name != "node-1" {
			t.Errorf("newScene(node-2) = %+v, %v", s, err)
		}
	}
	if _, err := newScene(nil, "node-9"); err == nil {
		t.Error("newScene found node-9 in no nodes")
	}
	if _, err := readNodes("-", strings.NewReader("ready 0 nodes\n")); err == nil {
		t.Error("readNodes found nodes in output without node lines")
	}
}

func TestParseSources(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		first string
		n     int
	}{
		{"127.0.0.2", "127.0.0.2", 1},
		{"127.0.0.2-65", "127.0.0.2", 64},
		{"127.0.0.7-7", "127.0.0.7", 1},
		{"127.0.0.9-8", "", 0},
		{"127.0.0.2-256", "", 0},
		{"::1", "", 0},
		{"localhost", "", 0},
	} {
		s, err := parseSources(tc.spec)
		if tc.n == 0 {
			if err == nil {
				t.Errorf("parseSources(%q) = %v, want an error", tc.spec, s)
			}
			continue
		}
		if err != nil || len(s.ips) != tc.n || s.pick().String() != tc.first {
			t.Errorf("parseSources(%q) = %v, %v; want %d addresses from %s", tc.spec, s, err, tc.n, tc.first)
		}
	}
	// Taken in turn.
	s, _ := parseSources("127.0.0.2-4")
	var got []string
	for range 4 {
		got = append(got, s.pick().String())
	}
	if strings.Join(got, " ") != "127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.2" {
		t.Errorf("picks %v, want each address in turn", got)
	}
}
