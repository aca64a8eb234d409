package cluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLogWriterLeavesOutRepeats: a kind of memberlist line is written once
// a minute however often memberlist repeats it, the next one saying how
// many were left out; other kinds are written at once.
func TestLogWriterLeavesOutRepeats(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	w := &logWriter{now: func() time.Time { return now }}
	w.l.Store(slog.New(slog.NewTextHandler(&out, nil)))
	for i := range 500 {
		w.Write([]byte("[ERR] memberlist: Push/Pull with node-3 failed: read tcp 127.0.0.1:" + string(rune('0'+i%10)) + ": connection reset by peer\n"))
		now = now.Add(100 * time.Millisecond)
	}
	w.Write([]byte("[WARN] memberlist: Refuting a suspect message (from: node-3)\n"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// 500 lines over 50 s: the first, and the refutation.
	if len(lines) != 2 || !strings.Contains(lines[0], "Push/Pull with node-3 failed") || !strings.Contains(lines[1], "Refuting") {
		t.Fatalf("wrote %d lines:\n%s", len(lines), out.String())
	}
	now = now.Add(10 * time.Second)
	w.Write([]byte("[ERR] memberlist: Push/Pull with node-3 failed: i/o timeout\n"))
	last := strings.TrimSpace(out.String()[strings.LastIndex(strings.TrimSpace(out.String()), "\n")+1:])
	if !strings.Contains(last, "Push/Pull with node-3 failed: i/o timeout") || !strings.Contains(last, "similar_lines_left_out=499") {
		t.Fatalf("a minute later: %s", last)
	}
}

// TestLogWriterKindIgnoresSender: lines that differ only in who sent what
// (the replayed pings of an outsider cycling source addresses) are one kind:
// a thousand senders get one line written, not a thousand.
func TestLogWriterKindIgnoresSender(t *testing.T) {
	var out bytes.Buffer
	w := &logWriter{now: func() time.Time { return time.Unix(0, 0) }} // all within one minute
	w.l.Store(slog.New(slog.NewTextHandler(&out, nil)))
	for i := range 1000 {
		w.Write(fmt.Appendf(nil, "[WARN] memberlist: Got ping for unexpected node 'node-%d' from=127.0.%d.%d:%d\n", i%3, i/250, i%250, 40000+i))
	}
	w.Write([]byte("[WARN] memberlist: Got ping for unexpected node 'vm:17946' from=[fd00::2]:7946\n"))
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("wrote %d lines for 1001 pings from 1001 senders:\n%s", n, out.String())
	}
}
