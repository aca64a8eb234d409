package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0.0 MiB", 21460 << 10: "21.0 MiB", 16 * mib: "16.0 MiB", 3 * mib / 2: "1.5 MiB"} {
		if got := formatMiB(n); got != want {
			t.Errorf("formatMiB(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTableLine(t *testing.T) {
	if got, want := tableLine([]string{"a", "b|c", ""}), `| a | b\|c |  |`; got != want {
		t.Errorf("tableLine = %q, want %q", got, want)
	}
	h := strings.Split(tableHeader(), "\n")
	if len(h) != 2 || strings.Count(h[0], "|") != strings.Count(h[1], "|") || !strings.HasPrefix(h[0], "| attack |") {
		t.Errorf("tableHeader = %q: want a heading line and a separator of as many columns", h)
	}
}

// TestRowAndVerdict works out rows by hand: one attack that meets its
// bounds and one that breaks all of them.
func TestRowAndVerdict(t *testing.T) {
	s := scene{nodes: []node{{name: "node-1", pid: 1}, {name: "node-2", pid: 2}}, target: 1}
	a := attack{name: "data-tcp", size: "5,000/s", unit: "connections", rss: 16 * mib}
	calm := measurement{
		took:      10 * time.Second,
		procs:     []procStats{{}, {before: procSample{rss: 20 * mib}, peak: 22 * mib}},
		peakReset: true,
		logs:      []entry{{text: "[node-2] refused"}},
		probes:    probeCount{resumed: 9, total: 9},
	}
	tl := newTally("connections")
	tl.sent.Store(50_000)
	broken := judge(a, s, tl, calm)
	if len(broken) != 0 {
		t.Errorf("judge = %q, want no bound broken", broken)
	}
	want := []string{"data-tcp", "5,000/s; 5,000 connections/s", "20.0 MiB → 22.0 MiB", "1", "all alive", "9/9", "meets"}
	one, _ := parseSources("127.0.0.2")
	if got := rowCells(a, one, s, tl, calm, broken); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("rowCells =\n%q, want\n%q", got, want)
	}

	stormy := calm
	stormy.procs = []procStats{{}, {before: procSample{rss: 20 * mib}, peak: 100 * mib}}
	stormy.logs = make([]entry, logsPerMinute+1)
	stormy.dead = []string{"node-1 listed 1 of 2 members (1 dead) at +3.0s"}
	stormy.suspect = []string{"node-2 saw node-1 suspect at +1.0s"}
	stormy.probes = probeCount{resumed: 3, total: 9}
	stormy.peakReset = false
	tl.fail("a garbage ticket broke a handshake")
	broken = judge(a, s, tl, stormy)
	wantBroken := []string{"RSS +80.0 MiB > +16.0 MiB", "21 log lines > 20", "member declared dead", "resumed 3/9", "1 checks failed"}
	if strings.Join(broken, "; ") != strings.Join(wantBroken, "; ") {
		t.Errorf("judge = %q, want %q", broken, wantBroken)
	}
	many, _ := parseSources("127.0.0.2-17")
	cells := rowCells(a, many, s, tl, stormy, broken)
	if cells[1] != "5,000/s from 16 addresses; 5,000 connections/s" || cells[2] != "20.0 MiB → 100.0 MiB (lifetime peak)" || cells[4] != "declared dead (1 observations)" ||
		cells[6] != "fails: "+strings.Join(wantBroken, "; ") {
		t.Errorf("rowCells = %q", cells)
	}

	// Suspicion alone breaks nothing, but shows.
	suspected := calm
	suspected.suspect = stormy.suspect
	if got := membersCell(suspected); got != "suspected (1 observations), none dead" {
		t.Errorf("membersCell = %q", got)
	}
	// No probe at all is no evidence that resumption held.
	silent := calm
	silent.probes = probeCount{}
	silent.procs = []procStats{{}, {err: errors.New("gone")}}
	if got := judge(a, s, newTally("connections"), silent); strings.Join(got, "; ") != "target's memory not measured; no probe completed" {
		t.Errorf("judge = %q", got)
	}
}

func TestLogBound(t *testing.T) {
	for d, want := range map[time.Duration]int{time.Second: 20, 30 * time.Second: 20, time.Minute: 20, 61 * time.Second: 40, 5 * time.Minute: 100} {
		if got := logBound(d); got != want {
			t.Errorf("logBound(%v) = %d, want %d", d, got, want)
		}
	}
}
