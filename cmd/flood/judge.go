package main

import (
	"fmt"
	"time"
)

// The bounds every attack is judged by, besides its own on memory
// (attack.rss). They are what docs/security.md claims a flood cannot do.

// logsPerMinute is the most log lines a flood may cause, all nodes
// together, per minute it lasts (or part of one): each part that refuses
// traffic logs its first refusal of each kind at once and then one summary
// a minute (package rejects), and a flood must not move membership.
const logsPerMinute = 20

// logBound is the most log lines allowed in a window of d.
func logBound(d time.Duration) int {
	minutes := int((d + time.Minute - 1) / time.Minute)
	return logsPerMinute * max(1, minutes)
}

// judge returns the bounds an attack broke, none if it met them all:
//
//   - the target's resident memory grew by no more than a.rss at its peak;
//   - the nodes wrote no more than logBound log lines;
//   - no member was declared dead, or exited;
//   - every cross-node resumption probe resumed (and some completed);
//   - every check the attack makes itself passed (tls-garbage, hs-flood).
//
// A member suspected but not declared dead breaks no bound; the members
// column says so.
func judge(a attack, s scene, t *tally, m measurement) (broken []string) {
	p := m.procs[s.target]
	switch {
	case p.err != nil:
		broken = append(broken, "target's memory not measured")
	case p.growth() > a.rss:
		broken = append(broken, fmt.Sprintf("RSS +%s > +%s", formatMiB(p.growth()), formatMiB(a.rss)))
	}
	if n, limit := len(m.logs), logBound(m.took); n > limit {
		broken = append(broken, fmt.Sprintf("%s log lines > %d", formatCount(int64(n)), limit))
	}
	if len(m.dead) > 0 {
		broken = append(broken, "member declared dead")
	}
	switch {
	case m.probes.total == 0:
		broken = append(broken, "no probe completed")
	case m.probes.resumed < m.probes.total:
		broken = append(broken, fmt.Sprintf("resumed %d/%d", m.probes.resumed, m.probes.total))
	}
	if _, wrong := t.results(); len(wrong) > 0 {
		broken = append(broken, fmt.Sprintf("%d checks failed", len(wrong)))
	}
	return broken
}
