package rejects

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestAFloodIsAFewLines: a hundred thousand refusals of two kinds make one
// line per kind at once and one summary per interval, with the counts.
func TestAFloodIsAFewLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		l := New("gossip", slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
		for i := range 100_000 {
			kind := "packet_unauthenticated"
			if i%10 == 0 {
				kind = "stream_oversized"
			}
			l.Add(kind, "192.0.2.7:7946", errors.New("bad"))
		}
		time.Sleep(time.Minute + time.Second) // fake time: the first summary
		synctest.Wait()
		l.Add("packet_unauthenticated", "192.0.2.7:7946", nil)
		l.Close() // the last summary
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d lines, want 2 first refusals and 2 summaries:\n%s", len(lines), buf.String())
		}
		if !strings.Contains(lines[2], "packet_unauthenticated=90000") || !strings.Contains(lines[2], "stream_oversized=10000") {
			t.Errorf("first summary %q", lines[2])
		}
		if !strings.Contains(lines[3], "packet_unauthenticated=1") || strings.Contains(lines[3], "stream_oversized") {
			t.Errorf("last summary %q", lines[3])
		}
		if got := l.Counts(); got["packet_unauthenticated"] != 90_001 || got["stream_oversized"] != 10_000 {
			t.Errorf("counts %v", got)
		}
	})
}

// TestQuietWhenNothingRefused: no refusals, no lines.
func TestQuietWhenNothingRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		l := New("gossip", slog.New(slog.NewTextHandler(&buf, nil)), time.Second)
		time.Sleep(10 * time.Second)
		l.Close()
		l.Close()
		if buf.String() != "" {
			t.Errorf("logged %q", buf.String())
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
