package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// What Linux's /proc says about a node's process (proc(5)).

// procSample is a process at one moment.
type procSample struct {
	hwm, rss int64         // peak and current resident memory, bytes (VmHWM, VmRSS)
	cpu      time.Duration // user and system time since it started
	fds      int           // open file descriptors
}

// userHZ is the unit of /proc/<pid>/stat's times, sysconf(_SC_CLK_TCK):
// 100 on every Linux architecture Go supports.
const userHZ = 100

// readProc samples process pid.
func readProc(pid int) (procSample, error) {
	var s procSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	if s.hwm, s.rss, err = parseStatus(string(status)); err != nil {
		return s, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.cpu, err = parseStat(string(stat)); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	return s, nil
}

// parseStatus returns VmHWM and VmRSS from /proc/<pid>/status, in bytes.
func parseStatus(text string) (hwm, rss int64, err error) {
	found := 0
	for line := range strings.Lines(text) {
		key, value, ok := strings.Cut(line, ":")
		if !ok || key != "VmHWM" && key != "VmRSS" {
			continue
		}
		f := strings.Fields(value) // "  21460 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected %q", key, strings.TrimSpace(value))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", key, err)
		}
		if key == "VmHWM" {
			hwm = kb << 10
		} else {
			rss = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no VmHWM or VmRSS (a kernel thread, or a zombie)")
	}
	return hwm, rss, nil
}

// parseStat returns the user and system time from /proc/<pid>/stat. The
// command name, in parentheses, may hold spaces and parentheses itself, so
// the fields are counted from the last ')'.
func parseStat(text string) (time.Duration, error) {
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(text[i+1:]) // from field 3, state
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// resetPeak sets process pid's VmHWM to its current VmRSS (Linux 4.0 and
// later; the process's owner may), so that the next VmHWM read is the peak
// since now.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// loadAverage returns /proc/loadavg's one-minute load, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
