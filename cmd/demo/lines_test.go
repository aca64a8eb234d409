package main

import (
	"reflect"
	"testing"
)

// TestLines: what a node prints, the runner reads back; anything else is
// refused rather than half-understood.
func TestLines(t *testing.T) {
	n := nodeLine{name: "node-1", pid: 42, tls: "127.0.0.1:1", gossip: "127.0.0.1:2", data: "127.0.0.1:3"}
	r := ringLine{name: "node-1", nodes: 3}
	for _, want := range []any{n, r} {
		got, err := parseLine(want.(interface{ String() string }).String())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseLine(%v) = %#v, %v; want %#v", want, got, err, want)
		}
	}
	if got := n.String(); got != "node node-1 pid=42 tls=127.0.0.1:1 gossip=127.0.0.1:2 data=127.0.0.1:3" {
		t.Errorf("node line %q", got)
	}

	for _, bad := range []string{
		"",
		"node",
		"node node-1 pid=x tls=127.0.0.1:1 gossip=127.0.0.1:2",
		"node node-1 pid=42 gossip=127.0.0.1:2",
		"node node-1 pid=42 tls=127.0.0.1:1",
		"ring node-1 nodes=-1",
		"ring node-1 nodes",
		"hello world",
	} {
		if got, err := parseLine(bad); err == nil {
			t.Errorf("parseLine(%q) = %#v, want an error", bad, got)
		}
	}
}
