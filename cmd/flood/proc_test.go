package main

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name     string
		text     string
		hwm, rss int64
		ok       bool
	}{
		{"a process", "Name:\tdemo\nVmPeak:\t 1288976 kB\nVmHWM:\t   21460 kB\nVmRSS:\t   20012 kB\nThreads:\t9\n", 21460 << 10, 20012 << 10, true},
		{"a kernel thread", "Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n", 0, 0, false},
		{"another unit", "VmHWM:\t 21 MB\nVmRSS:\t 20 MB\n", 0, 0, false},
		{"not a number", "VmHWM:\t x kB\nVmRSS:\t 20 kB\n", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hwm, rss, err := parseStatus(tc.text)
			if (err == nil) != tc.ok || hwm != tc.hwm || rss != tc.rss {
				t.Errorf("parseStatus = %d, %d, %v; want %d, %d, ok %v", hwm, rss, err, tc.hwm, tc.rss, tc.ok)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		cpu  time.Duration
		ok   bool
	}{
		// utime 150 and stime 50 ticks: 2 s.
		{"a process", "4242 (demo) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 50 0 0 20 0 9 0 100 1000 500", 2 * time.Second, true},
		// A command name may hold spaces and parentheses.
		{"an awkward name", "4242 (a (b) c) R 1 4242 4242 0 -1 4194560 1234 0 0 0 7 3 0 0 20 0 9 0 100 1000 500", 100 * time.Millisecond, true},
		{"cut short", "4242 (demo) S 1 4242", 0, false},
		{"no name", "4242 demo S", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cpu, err := parseStat(tc.text)
			if (err == nil) != tc.ok || cpu != tc.cpu {
				t.Errorf("parseStat = %v, %v; want %v, ok %v", cpu, err, tc.cpu, tc.ok)
			}
		})
	}
}

// TestReadProc reads this process, as the watch reads a node's.
func TestReadProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rss <= 0 || s.hwm < s.rss || s.fds < 3 {
		t.Errorf("readProc = %+v: want a resident set, a peak at least as large, and standard input, output and error open", s)
	}
	if err := resetPeak(os.Getpid()); err != nil {
		t.Logf("resetPeak: %v (a watch then reports lifetime peaks)", err)
	}
}
