package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// node is a member of the demo cluster as the demo's contract line announces
// it (see cmd/demo):
//
//	node <name> pid=<pid> tls=<host:port> gossip=<host:port> [data=<host:port>]
type node struct {
	name   string
	pid    int    // its process, for /proc; 0 when not known (a member in this process)
	tls    string // HTTPS
	gossip string // gossip, TCP and UDP
	data   string // the peer data channel; "" in ticket mode
}

// fields splits a contract line into its keyword, its name, and its
// key=value pairs; ok is false if a pair has no '='.
func fields(s string) (keyword, name string, kv map[string]string, ok bool) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return "", "", nil, len(f) == 0
	}
	kv = make(map[string]string)
	for _, p := range f[2:] {
		k, v, found := strings.Cut(p, "=")
		if !found {
			return f[0], f[1], nil, false
		}
		kv[k] = v
	}
	return f[0], f[1], kv, true
}

// parseNodeLine parses a node line. isNode is false for any other line; err
// says what is wrong with a node line that is malformed.
func parseNodeLine(s string) (n node, isNode bool, err error) {
	if !strings.HasPrefix(s, "node ") {
		return node{}, false, nil
	}
	_, name, kv, ok := fields(s)
	pid, perr := strconv.Atoi(kv["pid"])
	if !ok || perr != nil || pid <= 0 || kv["tls"] == "" || kv["gossip"] == "" {
		return node{}, true, fmt.Errorf("malformed node line %q", s)
	}
	return node{name: name, pid: pid, tls: kv["tls"], gossip: kv["gossip"], data: kv["data"]}, true, nil
}

// news is what the runner reports about a node while it serves:
//
//	ring <name> nodes=<k> peers=<p> [key=<id>]   its ring changed
//	down <name> pid=<pid>: <how it exited> (...)  its process exited
type news struct {
	name  string
	nodes int  // members on its ring; for a ring line
	down  bool // a down line: the process exited
}

// parseNews parses a ring or a down line; ok is false for any other line.
func parseNews(s string) (n news, ok bool) {
	keyword, name, kv, _ := fields(s)
	switch keyword {
	case "ring":
		nodes, err := strconv.Atoi(kv["nodes"])
		if err != nil {
			return news{}, false
		}
		return news{name: name, nodes: nodes}, true
	case "down":
		return news{name: name, down: true}, true
	}
	return news{}, false
}

// parseReady parses "ready <N> nodes"; ok is false for any other line.
func parseReady(s string) (n int, ok bool) {
	f := strings.Fields(s)
	if len(f) != 3 || f[0] != "ready" || f[2] != "nodes" {
		return 0, false
	}
	n, err := strconv.Atoi(f[1])
	return n, err == nil
}

// readNodes reads the node lines of a saved copy of the demo's standard
// output ("-" for standard input). A node that restarted under its name is
// the last line with that name.
func readNodes(path string, stdin io.Reader) ([]node, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var nodes []node
	at := make(map[string]int)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		n, isNode, err := parseNodeLine(sc.Text())
		if !isNode {
			continue
		}
		if err != nil {
			return nil, err
		}
		if i, ok := at[n.name]; ok {
			nodes[i] = n
			continue
		}
		at[n.name] = len(nodes)
		nodes = append(nodes, n)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no node lines in %s: want the demo's standard output", path)
	}
	return nodes, nil
}

// scene is what an attack aims at: a cluster, and the member it floods.
type scene struct {
	nodes  []node
	target int // index in nodes
}

// newScene returns the scene of nodes with the node called target as the target.
func newScene(nodes []node, target string) (scene, error) {
	for i, n := range nodes {
		if n.name == target {
			return scene{nodes: nodes, target: i}, nil
		}
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.name
	}
	return scene{}, fmt.Errorf("-target %s: no such node (the cluster has %s)", target, strings.Join(names, ", "))
}

// victim returns the target.
func (s scene) victim() node { return s.nodes[s.target] }

// others returns every node but the target.
func (s scene) others() []node {
	var o []node
	for i, n := range s.nodes {
		if i != s.target {
			o = append(o, n)
		}
	}
	return o
}
