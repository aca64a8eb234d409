package main

import (
	"fmt"
	"strconv"
	"strings"
)

// The lines a node prints on standard output. The runner reads them to learn
// where its nodes are and when the cluster is whole; people can read them too.
// Each is a keyword, a node name, and key=value pairs.
//
//	node <name> pid=<pid> tls=<host:port> gossip=<host:port> [data=<host:port>]
//	ring <name> nodes=<n> peers=<p> [key=<ticket key ID>]
//
// The node line is also the runner's contract line, printed as it is.

// nodeLine announces a node that is up: serving HTTPS and in the cluster.
type nodeLine struct {
	name   string
	pid    int
	tls    string // the HTTPS address
	gossip string // the cluster address other nodes join
	data   string // the peer data channel's address; none in ticket mode
}

func (l nodeLine) String() string {
	s := fmt.Sprintf("node %s pid=%d tls=%s gossip=%s", l.name, l.pid, l.tls, l.gossip)
	if l.data != "" { // ticket mode has no data port
		s += " data=" + l.data
	}
	return s
}

// ringLine says how many members, the node included, are on the node's ring,
// to how many of the others it has a live data connection, and in ticket
// mode which key it encrypts tickets with.
type ringLine struct {
	name  string
	nodes int
	peers int
	key   string
}

func (l ringLine) String() string {
	s := fmt.Sprintf("ring %s nodes=%d peers=%d", l.name, l.nodes, l.peers)
	if l.key != "" {
		s += " key=" + l.key
	}
	return s
}

// parseLine parses a node's output line into a nodeLine or a ringLine.
func parseLine(s string) (any, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return nil, fmt.Errorf("unexpected line %q", s)
	}
	kv := make(map[string]string)
	for _, p := range f[2:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("unexpected line %q", s)
		}
		kv[k] = v
	}
	switch f[0] {
	case "node":
		pid, err := strconv.Atoi(kv["pid"])
		if err != nil || pid <= 0 || kv["tls"] == "" || kv["gossip"] == "" {
			return nil, fmt.Errorf("malformed node line %q", s)
		}
		return nodeLine{name: f[1], pid: pid, tls: kv["tls"], gossip: kv["gossip"], data: kv["data"]}, nil
	case "ring":
		n, err := strconv.Atoi(kv["nodes"])
		p, err2 := strconv.Atoi(kv["peers"])
		if err != nil || err2 != nil || n < 0 || p < 0 {
			return nil, fmt.Errorf("malformed ring line %q", s)
		}
		return ringLine{name: f[1], nodes: n, peers: p, key: kv["key"]}, nil
	}
	return nil, fmt.Errorf("unexpected line %q", s)
}
