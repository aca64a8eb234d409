package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLines(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	var got []string
	lines(strings.NewReader("one\r\ntwo\n"+long+"\nthree"), func(s string) { got = append(got, s) })
	if len(got) != 4 || got[0] != "one" || got[1] != "two" || !strings.HasPrefix(got[2], "xxx") || len(got[2]) >= len(long) || got[3] != "three" {
		t.Errorf("lines = %d lines, %q...; want one, two, the long line cut, three", len(got), got[:min(2, len(got))])
	}
}

func TestJournal(t *testing.T) {
	var j journal
	j.log("[node-1] before")
	j.out("ring node-1 nodes=3 peers=2")
	m := j.mark()
	j.log("[node-2] during " + strings.Repeat("y", 2*maxLine))
	j.out("rates node-1=100% (1/1)") // not news
	j.out("ring node-2 nodes=2 peers=1")
	logs, news := j.since(m)
	if len(logs) != 1 || len(logs[0].text) > maxLine+len("…") || len(news) != 1 || news[0].name != "node-2" || news[0].nodes != 2 {
		t.Errorf("since = %d logs, %+v; want the line after the mark, cut, and node-2's ring", len(logs), news)
	}
}

// TestFollow: lines appended to a file after follow starts arrive; those
// before do not.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.err")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []string
	done, err := follow(ctx, path, func(s string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new 1\nnew ")
	time.Sleep(250 * time.Millisecond)
	f.WriteString("2\n")
	f.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if strings.Join(got, "|") != "new 1|new 2" {
		t.Errorf("follow gave %q, want the two new lines", got)
	}
}
