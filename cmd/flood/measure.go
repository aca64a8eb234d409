package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// result is one attack's measured run: its table row and the details behind it.
type result struct {
	cells   []string // the table row's cells
	details []string // lines for a person: what the attacker saw, and the target
	met     bool     // every bound held
}

// measure runs attack a from the sources from for d while w watches, and
// judges it. progress, if not nil, gets a line every few seconds.
func measure(ctx context.Context, w *watcher, a attack, from *sources, d time.Duration, progress func(string)) result {
	t := newTally(a.unit)
	win := w.open(ctx, progress)
	actx, cancel := context.WithTimeout(ctx, d)
	a.run(actx, w.scene, from, t)
	cancel()
	m := win.close()
	broken := judge(a, w.scene, t, m)
	return result{
		cells:   rowCells(a, from, w.scene, t, m, broken),
		details: details(a, from, w.scene, t, m, broken),
		met:     len(broken) == 0,
	}
}

// details describes an attack's run, for the lines after the table.
func details(a attack, from *sources, s scene, t *tally, m measurement, broken []string) []string {
	notes, wrong := t.results()
	out := []string{
		fmt.Sprintf("%s (%s, from %s): %s", a.name, a.aim, from, a.what),
		fmt.Sprintf("  attacker: %s %s in %.1fs", formatCount(t.sent.Load()), t.unit, m.took.Seconds()),
	}
	if cut := t.cut.Load(); cut > 0 {
		out[1] += fmt.Sprintf(", %s of them closed or refused by the target", formatCount(cut))
	}
	for _, n := range notes {
		out = append(out, "  attacker: "+n)
	}
	for _, w := range wrong {
		out = append(out, "  CHECK FAILED: "+w)
	}
	out = append(out, seen(s, m)...)
	if len(broken) == 0 {
		out = append(out, "  verdict: meets every bound")
	} else {
		out = append(out, "  verdict: fails: "+strings.Join(broken, "; "))
	}
	return out
}

// seen describes what a watch saw of the cluster.
func seen(s scene, m measurement) []string {
	out := []string{fmt.Sprintf("  target %s refused: %s", s.victim().name, m.rejectedKinds())}
	for i, n := range s.nodes {
		p := m.procs[i]
		if n.pid == 0 {
			continue
		}
		if p.err != nil {
			out = append(out, fmt.Sprintf("  %s: %s", n.name, oneLine(p.err)))
			continue
		}
		out = append(out, fmt.Sprintf("  %s: RSS %s, peak %s (+%s); CPU %.0f%% on average, %.0f%% at most; at most %d descriptors",
			n.name, formatMiB(p.before.rss), formatMiB(p.peak), formatMiB(p.growth()),
			100*p.cpu.Seconds()/m.took.Seconds(), 100*p.cpuMax, p.fdsMax))
	}
	if m.sessions != "" {
		out = append(out, fmt.Sprintf("  %s holds %s", s.victim().name, m.sessions))
	}
	out = append(out, fmt.Sprintf("  log lines: %d (bound %d)", len(m.logs), logBound(m.took)))
	for i, l := range m.logs {
		if i == 3 {
			out = append(out, fmt.Sprintf("    ... and %d more", len(m.logs)-i))
			break
		}
		out = append(out, "    "+l.text)
	}
	for _, x := range m.dead {
		out = append(out, "  DEAD: "+x)
	}
	for _, x := range m.suspect {
		out = append(out, "  suspect: "+x)
	}
	if m.silent > 0 {
		out = append(out, fmt.Sprintf("  status: %d of %d requests got no answer", m.silent, m.polls))
	}
	out = append(out, fmt.Sprintf("  probes: %d of %d resumed", m.probes.resumed, m.probes.total))
	for _, x := range m.probes.misses {
		out = append(out, "    "+x)
	}
	if len(m.misses) > 0 {
		out = append(out, "  sessions offered and not resumed, as the members count them: "+strings.Join(m.misses, ", "))
	}
	return out
}

// wholeTimeout bounds the wait for a cluster to be whole again after an
// attack: a member declared dead rejoins within a few seconds of the
// flood's end, and a busy machine may take longer.
const wholeTimeout = 90 * time.Second

// awaitWhole waits until every member sees every other alive, with its
// ring and data connections whole, and returns how long it waited.
func (w *watcher) awaitWhole(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		whole := true
		for _, n := range w.scene.nodes {
			r, err := w.status.report(ctx, n.tls)
			if err != nil || !r.whole(len(w.scene.nodes)) {
				whole = false
				break
			}
		}
		if whole {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return time.Since(start), fmt.Errorf("the cluster was not whole within %v", timeout)
			}
			return time.Since(start), ctx.Err()
		case <-tick.C:
		}
	}
}
