package status

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// TestWantsJSON: ?format decides; otherwise the first of JSON and HTML the
// Accept header names; otherwise the page.
func TestWantsJSON(t *testing.T) {
	tests := []struct {
		url, accept string
		want        bool
	}{
		{"/status", "", false},
		{"/status?format=json", "", true},
		{"/status?format=json", "text/html", true},
		{"/status?format=html", "application/json", false},
		{"/status", "application/json", true},
		{"/status", "application/json; charset=utf-8", true},
		{"/status", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false}, // a browser
		{"/status", "*/*", false},                                                             // curl
		{"/status", "text/plain, application/json", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.url, nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if got := wantsJSON(r); got != tt.want {
			t.Errorf("%s, Accept %q: %v, want %v", tt.url, tt.accept, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatCount(0), "0"},
		{formatCount(999), "999"},
		{formatCount(1234567), "1,234,567"},
		{formatBytes(512), "512 B"},
		{formatBytes(4532), "4.4 KiB"},
		{formatBytes(256 << 20), "256.0 MiB"},
		{formatSeconds(0.000379), "379 µs"},
		{formatSeconds(0.0025), "2.5 ms"},
		{formatSeconds(1.5), "1.5 s"},
		{formatAge(42.4), "42s"},
		{formatAge(192), "3m 12s"},
		{formatAge(5*3600 + 120), "5h 02m"},
		{formatAge(3 * 86400), "3d 00h"},
		{formatPercentFloor(35.0 / 36), "97%"},
		{formatPercentFloor(199.0 / 200), "99%"},
		{formatPercentFloor(1), "100%"},
		{formatPercentFloor(0), "0%"},
		{formatPercent(0.3498, 1), "35.0%"},
		{formatUsed(4532, 256<<20), "<0.01% used"},
		{formatUsed(128<<20, 256<<20), "50.00% used"},
		{formatWhen(t0, t0.Add(-90*time.Second)), "1m 30s ago"},
		{formatWhen(t0, t0.Add(time.Hour)), "in 1h 00m"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %q, want %q", i, tt.got, tt.want)
		}
	}
}

// TestPage: the page renders as balanced HTML for a busy member with
// misses, a ticket-mode member with keys and a store (as the demo runs
// one), a ticket-mode member without a store, one whose rotator holds no
// key yet, and an idle member of one, and shows what it should.
func TestPage(t *testing.T) {
	rate := 35.0 / 36
	expire := t0.Add(25 * time.Hour)
	generated := uint64(2)
	busy := Report{
		Node: "node-2", Mode: "cache", Time: t0, Started: t0.Add(-5 * time.Minute), UptimeSeconds: 300,
		Members: []Member{
			{Name: "node-1", State: "alive", RTTSeconds: 0.0004, GossipAddr: "127.0.0.1:1", DataAddr: "127.0.0.1:2", Started: t0.Add(-6 * time.Minute)},
			{Name: "node-2", State: "alive", Self: true, GossipAddr: "127.0.0.1:3", DataAddr: "127.0.0.1:4", Started: t0.Add(-5 * time.Minute)},
			{Name: "node-3", State: "suspect", RTTSeconds: 0.002, GossipAddr: "127.0.0.1:5", Started: t0.Add(-4 * time.Minute)},
		},
		Cluster:  ClusterSummary{Alive: 2, Suspect: 1, Dead: 1},
		Ring:     &Ring{Nodes: 3, Share: 0.35, FairShare: 1.0 / 3, PeersConnected: 1, Rebalancing: true},
		Sessions: &Sessions{Held: 1234, Bytes: 320000, MaxBytes: 256 << 20, WebHeld: 56, WebBytes: 180 << 10, WebMaxBytes: 64 << 20},
		LastMinute: LastMinute{
			Seconds: 58, Handshakes: 36, Resumed: 35, Full: 1, ResumptionRate: &rate,
			Misses:      map[string]uint64{"not_found": 1, "expired": 0, "timeout": 2},
			PeerLatency: &PeerLatency{Lookups: 12, MeanSeconds: 0.0003, P50Seconds: 0.00025, P99Seconds: 0.001},
			Intervals: []Interval{
				{From: t0.Add(-58 * time.Second), Seconds: 5, Resumed: 10, Full: 1},
				{From: t0.Add(-53 * time.Second), Seconds: 5, Resumed: 0, Full: 0},
				{From: t0.Add(-48 * time.Second), Seconds: 3, Resumed: 25, Full: 0},
			},
		},
		Counters: Counters{ResumptionMisses: map[string]uint64{"not_found": 4, "timeout": 2}},
	}
	tickets := busy
	tickets.Mode = "tickets"
	tickets.TicketKeys = []TicketKey{
		{ID: "00000000000000aa", State: "retired", Created: t0.Add(-2 * time.Hour), Activate: t0.Add(-2 * time.Hour), Expire: &expire},
		{ID: "00000000000000bb", State: "active", Created: t0.Add(-time.Hour), Activate: t0.Add(-time.Hour), Expire: &expire, AgeSeconds: 3600},
		{ID: "00000000000000cc", State: "staged", Created: t0.Add(-10 * time.Second), Activate: t0.Add(50 * time.Second), Expire: &expire},
	}
	tickets.Counters.TicketKeysGenerated = &generated
	noStore := tickets
	noStore.Ring, noStore.Sessions, noStore.LastMinute.PeerLatency = nil, nil, nil
	noKey := noStore
	noKey.TicketKeys = nil
	idle := Report{
		Node: "solo", Mode: "off", Time: t0, Started: t0,
		Members:    []Member{{Name: "solo", State: "alive", Self: true}},
		Cluster:    ClusterSummary{Alive: 1},
		Ring:       &Ring{Nodes: 1, Share: 1, FairShare: 1},
		Sessions:   &Sessions{},
		LastMinute: LastMinute{Misses: map[string]uint64{}, PeerLatency: &PeerLatency{}},
	}

	tests := []struct {
		name   string
		report Report
		want   []string
		absent []string
	}{
		{"busy", busy, []string{
			"<title>node-2 · sessionmesh</title>", "97%", "35 of 36 handshakes", "35.0%", "fair share 33.3% with 3 nodes",
			"1,234", "312.5 KiB of a 256.0 MiB budget", "web sessions: 56, 180.0 KiB of a 64.0 MiB budget of their own", "rebalancing", "≤ 250 µs", "this node", "suspect", "not serving",
			"not_found", "timeout", "4 not_found · 2 timeout", "1 dead",
		}, []string{"expired", "Ticket keys"}},
		{"tickets", tickets, []string{"Ticket keys", "00000000000000bb", "active", "staged", "in 50s", "2 generated by this node",
			"Active ticket key, age", "1h 00m", "1 staged, 1 active, 1 retired", "none is stored",
			"Share of the ring", "Peer lookups", "Data channel"}, []string{"Sessions held"}},
		{"tickets without a store", noStore, []string{"97%", "35 of 36 handshakes", "node-1", "node-3", "Ticket keys", "00000000000000bb",
			"Active ticket key, age", "timeout"},
			[]string{"Sessions held", "Share of the ring", "Peer lookups", "fair share", "Data channel", "not serving", "127.0.0.1:2"}},
		{"no key yet", noKey, []string{"Ticket keys", "No ticket key yet", "no key encrypts yet", "0 staged, 0 active, 0 retired"},
			[]string{"Sessions held", "Share of the ring"}},
		{"idle", idle, []string{"no handshakes in the last minute", "Resumption is off", "none: resumption is off"}, []string{"NaN", "Inf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := renderPage(&b, pageTemplate(), tt.report); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			if err := checkHTML(page); err != nil {
				t.Errorf("%v\n%s", err, page)
			}
			text := pageText(t, page)
			for _, w := range tt.want {
				if !strings.Contains(page, w) && !strings.Contains(text, w) {
					t.Errorf("no %q on the page", w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(text, a) {
					t.Errorf("%q on the page", a)
				}
			}
			if strings.Contains(page, "ZgotmplZ") {
				t.Error("html/template refused a value (ZgotmplZ)")
			}
			if err := checkLinks(page); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkLinks checks that page refers to no absolute path or other site, so
// that it works under any prefix: every href and src is relative (a query,
// or a path without a leading slash) or a data: URL.
func checkLinks(page string) error {
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return nil
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			for more {
				var key, val []byte
				key, val, more = z.TagAttr()
				if k := string(key); k != "href" && k != "src" && k != "action" {
					continue
				}
				u, err := url.Parse(string(val))
				if err != nil {
					return fmt.Errorf("<%s %s=%q>: %v", name, key, val, err)
				}
				if u.Scheme == "data" {
					continue
				}
				if u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/") {
					return fmt.Errorf("<%s %s=%q>: not relative, breaks under a prefix", name, key, val)
				}
			}
		}
	}
}

// voidElements have no end tag.
var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

// checkHTML checks that page is a whole document whose every element is
// closed, in order.
func checkHTML(page string) error {
	if !strings.HasPrefix(page, "<!DOCTYPE html>") {
		return fmt.Errorf("no doctype")
	}
	z := html.NewTokenizer(strings.NewReader(page))
	var open []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			if len(open) > 0 {
				return fmt.Errorf("unclosed elements at the end: %v", open)
			}
			return nil
		case html.StartTagToken:
			name, _ := z.TagName()
			if !voidElements[string(name)] {
				open = append(open, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(open) == 0 || open[len(open)-1] != string(name) {
				return fmt.Errorf("</%s> closes %v", name, open)
			}
			open = open[:len(open)-1]
		}
	}
}

// pageText returns the text of page's body, whitespace collapsed.
func pageText(t *testing.T, page string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "style" || n.Data == "script") {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return strings.Join(strings.Fields(b.String()), " ")
}
