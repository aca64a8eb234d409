package status

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

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
