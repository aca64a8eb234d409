package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// The status page: statusReport, formatted for a person, through
// status.html. It refreshes itself (a meta refresh; no JavaScript) as often
// as the node samples its counters.

//go:embed status.html
var statusHTML string

// statusTemplate is parsed once per node (a value, not a package variable).
func statusTemplate() *template.Template {
	return template.Must(template.New("status").Parse(statusHTML))
}

// statusPage is what status.html shows.
type statusPage struct {
	R       statusReport
	Refresh int // seconds

	ModeLabel, Uptime, Updated string

	Rate, RateClass, RateDetail string
	RateWidth                   float64

	Share, FairShare string
	Peers            int

	Held, Bytes, Budget, BudgetUsed string
	BudgetWidth                     float64

	Lookups, P50, P99, Mean, NoLookups string

	Chart       chart
	WindowLabel string

	Members    []memberRow
	Misses     []missRow
	MissesEver string

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

// modeLabel describes a resumption mode in a few words.
func modeLabel(mode string) string {
	switch resumption(mode) {
	case cacheMode:
		return "cache mode: shared session cache"
	case ticketMode:
		return "ticket mode: shared rotating ticket keys"
	case offMode:
		return "resumption off"
	}
	return mode
}

// newStatusPage formats r for status.html.
func newStatusPage(r statusReport) statusPage {
	p := statusPage{
		R:         r,
		Refresh:   int(sampleInterval / time.Second),
		ModeLabel: modeLabel(r.Mode),
		Uptime:    formatAge(r.UptimeSeconds),
		Updated:   r.Time.Format("15:04:05"),
		Share:     formatPercent(r.Ring.Share, 1),
		FairShare: formatPercent(r.Ring.FairShare, 1),
		Peers:     max(0, r.Ring.Nodes-1),
		Held:      formatCount(uint64(r.Sessions.Held)),
		Bytes:     formatBytes(r.Sessions.Bytes),
		Budget:    formatBytes(r.Sessions.MaxBytes),
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
	if r.Sessions.MaxBytes > 0 {
		used := float64(r.Sessions.Bytes) / float64(r.Sessions.MaxBytes)
		p.BudgetUsed, p.BudgetWidth = formatUsed(r.Sessions.Bytes, r.Sessions.MaxBytes), math.Max(100*used, 0.5)
	}
	switch resumption(r.Mode) {
	case cacheMode:
		p.NoLookups = "no lookups at other members: every session asked for was held here"
	case ticketMode:
		p.NoLookups = "none needed in ticket mode: the session is in the ticket"
	default:
		p.NoLookups = "none: resumption is off"
	}
	if l := lm.PeerLatency; l.Lookups > 0 {
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

// chart is the handshake bar chart: one bar per sampling interval, as wide
// as the interval is long and as high as its handshakes per second.
type chart struct {
	Width, Height, Base float64
	Bars                []chartBar
	Peak                string // the highest rate, per second
}

type chartBar struct {
	X, W, YResumed, HResumed, YFull, HFull float64
	Title                                  string
}

func newChart(intervals []intervalStatus) chart {
	c := chart{Width: 600, Height: 140, Base: 139}
	if len(intervals) == 0 {
		return c
	}
	start := intervals[0].From
	var span, peak float64
	for _, iv := range intervals {
		span = math.Max(span, iv.From.Sub(start).Seconds()+iv.Seconds)
		if iv.Seconds > 0 {
			peak = math.Max(peak, float64(iv.Resumed+iv.Full)/iv.Seconds)
		}
	}
	if span <= 0 {
		return c
	}
	if peak > 0 {
		c.Peak = strconv.FormatFloat(peak, 'f', 1, 64)
	}
	scale := (c.Base - 4) / math.Max(peak, 1)
	for _, iv := range intervals {
		if iv.Seconds <= 0 {
			continue
		}
		x := iv.From.Sub(start).Seconds() / span * c.Width
		w := iv.Seconds / span * c.Width
		hr := float64(iv.Resumed) / iv.Seconds * scale
		hf := float64(iv.Full) / iv.Seconds * scale
		c.Bars = append(c.Bars, chartBar{
			X: round1(x + 1), W: round1(math.Max(w-2, 1)),
			YResumed: round1(c.Base - hr), HResumed: round1(hr),
			YFull: round1(c.Base - hr - hf), HFull: round1(hf),
			Title: fmt.Sprintf("%s–%s: %d resumed, %d full",
				iv.From.Format("15:04:05"), iv.From.Add(time.Duration(iv.Seconds*float64(time.Second))).Format("15:04:05"), iv.Resumed, iv.Full),
		})
	}
	return c
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// renderStatus writes r as the status page.
func renderStatus(w io.Writer, t *template.Template, r statusReport) error {
	return t.Execute(w, newStatusPage(r))
}

// formatPercent formats a fraction as a percentage with the given decimals.
func formatPercent(f float64, decimals int) string {
	return strconv.FormatFloat(100*f, 'f', decimals, 64) + "%"
}

// formatPercentFloor formats a fraction as a whole percentage rounded down,
// so that 100% means every one and 0% none at all.
func formatPercentFloor(f float64) string {
	return strconv.Itoa(int(math.Floor(100*f+1e-9))) + "%"
}

// formatUsed writes how much of a budget is used, as a percentage; a
// little is "<0.01%", not a misleading 0.
func formatUsed(n, budget int64) string {
	f := float64(n) / float64(budget)
	if f > 0 && f < 0.0001 {
		return "<0.01% used"
	}
	return formatPercent(f, 2) + " used"
}

// formatCount writes n with thousands separators.
func formatCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// formatBytes writes n in binary units.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + string("KMGTP"[i]) + "iB"
}

// formatSeconds writes a short duration in the unit that suits it.
func formatSeconds(s float64) string {
	switch {
	case s < 1e-3:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + " µs"
	case s < 1:
		return strconv.FormatFloat(s*1e3, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(s, 'g', 3, 64) + " s"
}

// formatAge writes a length of time for people: "42s", "3m 12s", "5h 02m".
func formatAge(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// formatWhen writes t relative to now: "3m 12s ago" or "in 5m 00s".
func formatWhen(now, t time.Time) string {
	if d := now.Sub(t); d >= 0 {
		return formatAge(d.Seconds()) + " ago"
	}
	return "in " + formatAge(t.Sub(now).Seconds())
}
