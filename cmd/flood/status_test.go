package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseRejected(t *testing.T) {
	metrics := `# HELP sessionmesh_rejected_total Traffic this node refused, by kind.
# TYPE sessionmesh_rejected_total counter
sessionmesh_rejected_total{kind="gossip_packet_unauthenticated"} 1.330006e+06
sessionmesh_rejected_total{kind="peer_tls_failed"} 3
sessionmesh_handshakes_total{resumed="true",version="TLS1.3"} 12
`
	got, err := parseRejected(strings.NewReader(metrics))
	if err != nil || len(got) != 2 || got["gossip_packet_unauthenticated"] != 1_330_006 || got["peer_tls_failed"] != 3 {
		t.Errorf("parseRejected = %v, %v", got, err)
	}
	if _, err := parseRejected(strings.NewReader(`sessionmesh_rejected_total{kind="x"} many` + "\n")); err == nil {
		t.Error("parseRejected took a value that is not a number")
	}
}

func TestReportWhole(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want bool
	}{
		{"whole", `{"members":[{"name":"a","state":"alive"},{"name":"b","state":"alive"}],"cluster":{"alive":2},"ring":{"nodes":2,"peers_connected":1}}`, true},
		{"ticket mode has no ring", `{"members":[{"name":"a","state":"alive"},{"name":"b","state":"alive"}],"cluster":{"alive":2}}`, true},
		{"a member suspected", `{"members":[{"name":"a","state":"alive"},{"name":"b","state":"suspect"}],"cluster":{"alive":1,"suspect":1},"ring":{"nodes":2,"peers_connected":1}}`, false},
		{"a member gone", `{"members":[{"name":"a","state":"alive"}],"cluster":{"alive":1,"dead":1},"ring":{"nodes":1,"peers_connected":0}}`, false},
		{"a data connection down", `{"members":[{"name":"a","state":"alive"},{"name":"b","state":"alive"}],"cluster":{"alive":2},"ring":{"nodes":2,"peers_connected":0}}`, false},
	} {
		var r report
		if err := json.Unmarshal([]byte(tc.json), &r); err != nil {
			t.Fatal(err)
		}
		if got := r.whole(2); got != tc.want {
			t.Errorf("%s: whole = %v, want %v", tc.name, got, tc.want)
		}
	}
}
