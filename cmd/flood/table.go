package main

import (
	"fmt"
	"strconv"
	"strings"
)

// The suite's results as a Markdown table, one row per attack:
//
//	| attack | size | target peak RSS | log lines | members | resumed | verdict |

// tableHeader returns the table's heading and separator lines.
func tableHeader() string {
	columns := []string{"attack", "size", "target peak RSS", "log lines", "members", "resumed", "verdict"}
	return tableLine(columns) + "\n" + strings.Repeat("|---", len(columns)) + "|"
}

// tableLine returns cells as a table line, with any '|' in them escaped.
func tableLine(cells []string) string {
	var b strings.Builder
	for _, c := range cells {
		b.WriteString("| ")
		b.WriteString(strings.ReplaceAll(c, "|", `\|`))
		b.WriteString(" ")
	}
	b.WriteString("|")
	return b.String()
}

// rowCells returns the cells of the row of attack a, sent from the sources from.
func rowCells(a attack, from *sources, s scene, t *tally, m measurement, broken []string) []string {
	size := a.size
	if n := len(from.ips); n > 1 {
		size += fmt.Sprintf(" from %d addresses", n)
	}
	if secs := m.took.Seconds(); secs > 0 {
		size += fmt.Sprintf("; %s %s/s", formatCount(int64(float64(t.sent.Load())/secs)), t.unit)
	}
	p := m.procs[s.target]
	rss := "not measured"
	if p.err == nil {
		rss = fmt.Sprintf("%s → %s", formatMiB(p.before.rss), formatMiB(p.peak))
		if !m.peakReset {
			rss += " (lifetime peak)"
		}
	}
	verdict := "meets"
	if len(broken) > 0 {
		verdict = "fails: " + strings.Join(broken, "; ")
	}
	return []string{
		a.name, size, rss,
		formatCount(int64(len(m.logs))),
		membersCell(m),
		fmt.Sprintf("%d/%d", m.probes.resumed, m.probes.total),
		verdict,
	}
}

// membersCell says in a few words what became of membership.
func membersCell(m measurement) string {
	switch {
	case len(m.dead) > 0:
		return fmt.Sprintf("declared dead (%d observations)", len(m.dead))
	case len(m.suspect) > 0:
		return fmt.Sprintf("suspected (%d observations), none dead", len(m.suspect))
	}
	return "all alive"
}

// formatMiB formats a number of bytes in MiB with one decimal.
func formatMiB(n int64) string {
	return strconv.FormatFloat(float64(n)/mib, 'f', 1, 64) + " MiB"
}

// formatCount formats n with thousands separators: 12,345.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
