package status

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// The status page: a Report, formatted for a person, through status.html.
// It refreshes itself (a meta refresh; no JavaScript) as often as the
// Status samples its counters. It links to nothing outside itself but its
// own JSON, by a relative link, so it works under any path prefix.

//go:embed status.html
var statusHTML string

// pageTemplate is parsed once per Status (a value, not a package variable).
func pageTemplate() *template.Template {
	return template.Must(template.New("status").Parse(statusHTML))
}

// renderPage writes r as the status page.
func renderPage(w io.Writer, t *template.Template, r Report) error {
	return t.Execute(w, newPage(r))
}

// page is what status.html shows.
type page struct {
	R       Report
	Refresh int // seconds

	ModeLabel, Uptime, Updated string

	Rate, RateClass, RateDetail string
	RateWidth                   float64

	// HasStore: the report has a ring, sessions and peer lookups. Without
	// a store (ticket mode) the page leaves them out rather than show zeros.
	HasStore bool

	Share, FairShare string
	Peers            int

	Held, Bytes, Budget, BudgetUsed string
	WebHeld, WebBytes, WebBudget    string
	BudgetWidth                     float64

	Lookups, P50, P99, Mean, NoLookups string

	Chart       chart
	WindowLabel string

	Members    []memberRow
	Misses     []missRow
	MissesEver string

	// TicketMode: the member has ticket keys (a rotator), though it may
	// hold none of them yet.
	TicketMode                      bool
	Keys                            []keyRow
	KeysGenerated                   uint64
	ActiveKey, ActiveAge, KeyCounts string
}

type memberRow struct {
	Name, State, StateClass, RTT, Gossip, Data, Up string
	Self                                           bool
}

type missRow struct {
	Reason, Meaning string
	Count           uint64
}

type keyRow struct {
	ID, State, StateClass, Created, Activate, Expire string
}

// missMeaning explains a miss reason in a few words, for people.
func missMeaning(reason string) string {
	switch reason {
	case tlsadapter.NotFound.String():
		return "no session under the ticket: never stored, evicted, or its holders are gone"
	case tlsadapter.Expired.String():
		return "the session outlived its lifetime"
	case tlsadapter.ServerNameMismatch.String():
		return "made for another server name (SNI)"
	case tlsadapter.Timeout.String():
		return "the member holding it did not answer in time"
	case tlsadapter.Unreachable.String():
		return "the member holding it is down"
	case tlsadapter.Undecodable.String():
		return "the state does not parse: another Go version, or corrupt"
	case tlsadapter.Malformed.String():
		return "not a ticket this cluster issued"
	case tlsadapter.UnknownKey.String():
		return "sealed with a ticket key no member holds"
	}
	return ""
}

// modeLabel describes a resumption mode in a few words; a mode it does not
// know, as is.
func modeLabel(mode string) string {
	switch mode {
	case "cache":
		return "cache mode: shared session cache"
	case "tickets":
		return "ticket mode: shared rotating ticket keys"
	case "off":
		return "resumption off"
	}
	return mode
}

// noLookups says why a member made no lookups at other members.
func noLookups(mode string) string {
	switch mode {
	case "cache":
		return "no lookups at other members: every session asked for was held here"
	case "tickets":
		return "none needed in ticket mode: the session is in the ticket"
	case "off":
		return "none: resumption is off"
	}
	return "no lookups at other members"
}

// newPage formats r for status.html.
func newPage(r Report) page {
	p := page{
		R:          r,
		Refresh:    int(sampleInterval / time.Second),
		ModeLabel:  modeLabel(r.Mode),
		Uptime:     formatAge(r.UptimeSeconds),
		Updated:    r.Time.Format("15:04:05"),
		HasStore:   r.Ring != nil,
		TicketMode: r.Counters.TicketKeysGenerated != nil,
	}

	lm := r.LastMinute
	switch {
	case lm.ResumptionRate == nil:
		p.Rate, p.RateClass, p.RateDetail = "—", "idle", "no handshakes in the last minute"
	default:
		rate := *lm.ResumptionRate
		p.Rate, p.RateWidth = formatPercentFloor(rate), 100*rate
		p.RateDetail = fmt.Sprintf("%s of %s handshakes resumed a session", formatCount(lm.Resumed), formatCount(lm.Handshakes))
		switch {
		case rate >= 0.9:
			p.RateClass = "good"
		case rate >= 0.5:
			p.RateClass = "warn"
		default:
			p.RateClass = "bad"
		}
	}
	if ring := r.Ring; ring != nil {
		p.Share, p.FairShare = formatPercent(ring.Share, 1), formatPercent(ring.FairShare, 1)
		p.Peers = max(0, ring.Nodes-1)
	}
	if ss := r.Sessions; ss != nil {
		p.Held, p.Bytes, p.Budget = formatCount(uint64(ss.Held)), formatBytes(ss.Bytes), formatBytes(ss.MaxBytes)
		p.WebHeld, p.WebBytes, p.WebBudget = formatCount(uint64(ss.WebHeld)), formatBytes(ss.WebBytes), formatBytes(ss.WebMaxBytes)
		if ss.MaxBytes > 0 {
			used := float64(ss.Bytes) / float64(ss.MaxBytes)
			p.BudgetUsed, p.BudgetWidth = formatUsed(ss.Bytes, ss.MaxBytes), math.Max(100*used, 0.5)
		}
	}
	p.NoLookups = noLookups(r.Mode)
	if l := lm.PeerLatency; l != nil && l.Lookups > 0 {
		p.Lookups = formatCount(l.Lookups)
		p.P50, p.P99, p.Mean = "≤ "+formatSeconds(l.P50Seconds), "≤ "+formatSeconds(l.P99Seconds), formatSeconds(l.MeanSeconds)
	}
	p.Chart = newChart(lm.Intervals)
	p.WindowLabel = "over the last " + formatAge(lm.Seconds)

	for _, m := range r.Members {
		row := memberRow{Name: m.Name, State: m.State, StateClass: "good", Self: m.Self, Gossip: m.GossipAddr, Data: m.DataAddr, RTT: "—"}
		if m.State != "alive" {
			row.StateClass = "warn"
		}
		if m.RTTSeconds > 0 {
			row.RTT = formatSeconds(m.RTTSeconds)
		}
		if row.Data == "" {
			row.Data = "not serving"
		}
		if !m.Started.IsZero() {
			row.Up = formatAge(r.Time.Sub(m.Started).Seconds())
		}
		p.Members = append(p.Members, row)
	}

	for reason, n := range lm.Misses {
		if n > 0 {
			p.Misses = append(p.Misses, missRow{Reason: reason, Meaning: missMeaning(reason), Count: n})
		}
	}
	sort.Slice(p.Misses, func(i, j int) bool {
		if p.Misses[i].Count != p.Misses[j].Count {
			return p.Misses[i].Count > p.Misses[j].Count
		}
		return p.Misses[i].Reason < p.Misses[j].Reason
	})
	var ever []string
	for _, reason := range tlsadapter.Reasons() {
		if n := r.Counters.ResumptionMisses[reason.String()]; n > 0 {
			ever = append(ever, fmt.Sprintf("%s %s", formatCount(n), reason))
		}
	}
	p.MissesEver = strings.Join(ever, " · ")

	var byState [3]int // staged, active, retired
	for _, k := range r.TicketKeys {
		switch k.State {
		case "staged":
			byState[0]++
		case "active":
			byState[1]++
			p.ActiveKey, p.ActiveAge = k.ID, formatAge(k.AgeSeconds)
		case "retired":
			byState[2]++
		}
	}
	p.KeyCounts = fmt.Sprintf("%d staged, %d active, %d retired", byState[0], byState[1], byState[2])
	for _, k := range r.TicketKeys {
		row := keyRow{
			ID: k.ID, State: k.State, StateClass: "idle",
			Created:  formatWhen(r.Time, k.Created),
			Activate: formatWhen(r.Time, k.Activate),
			Expire:   "when the next key replaces it",
		}
		if k.State == "active" {
			row.StateClass = "good"
		} else if k.State == "staged" {
			row.StateClass = "warn"
		}
		if k.Expire != nil {
			row.Expire = formatWhen(r.Time, *k.Expire)
		}
		p.Keys = append(p.Keys, row)
	}
	if g := r.Counters.TicketKeysGenerated; g != nil {
		p.KeysGenerated = *g
	}
	return p
}
