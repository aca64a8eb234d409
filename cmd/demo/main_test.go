//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run the real demo, built once by TestMain (with the race
// detector when the tests have it, so the node processes are checked too).
var demoBin string

// Deadlines, generous: a busy 2-core machine running the race detector.
const (
	startTimeout = 2 * time.Minute  // from start to the end of a phase of output
	exitTimeout  = 30 * time.Second // from SIGTERM to exit
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sessionmesh-demo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	demoBin = filepath.Join(dir, "demo")
	args := []string{"build", "-o", demoBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the demo: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// testEnv is the environment without any SESSIONMESH_ variable the person
// running the tests may have set.
func testEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIONMESH_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// proc is a running demo process: its standard output as lines, as they
// come, and its standard error.
type proc struct {
	t   *testing.T
	cmd *exec.Cmd

	mu    sync.Mutex // guards lines and eof
	lines []string
	eof   bool
	more  chan struct{} // gets a value when a line arrives or output ends
	next  int           // the first line expect has not looked at

	stderr lockedBuffer
	done   chan struct{} // closed when the process has exited
}

// startProc starts the demo with args. When the test ends, the process is
// killed if it is still running (its nodes then stop by themselves).
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, more: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(demoBin, args...)
	p.cmd.Env = env
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			p.signal()
		}
		p.mu.Lock()
		p.eof = true
		p.mu.Unlock()
		p.signal()
		p.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if s := p.stderr.String(); strings.Contains(s, "DATA RACE") || strings.Contains(s, "panic:") {
			t.Errorf("demo %s: standard error:\n%s", strings.Join(args, " "), s)
		}
	})
	return p
}

func (p *proc) signal() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// expect reads lines until one matches re and returns its submatches. It
// fails the test if the output ends or the deadline passes first.
func (p *proc) expect(re string, deadline time.Time) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		p.mu.Lock()
		lines, eof := p.lines, p.eof
		p.mu.Unlock()
		for ; p.next < len(lines); p.next++ {
			if m := rx.FindStringSubmatch(lines[p.next]); m != nil {
				p.next++
				return m
			}
		}
		if eof {
			p.t.Fatalf("output ended without a line matching %s\n%s", re, p.dump())
		}
		select {
		case <-p.more:
		case <-timer.C:
			p.t.Fatalf("no line matching %s by the deadline\n%s", re, p.dump())
		}
	}
}

// output returns every line of standard output so far.
func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("still running after %v\n%s", timeout, p.dump())
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) dump() string {
	return fmt.Sprintf("--- stdout:\n%s\n--- stderr:\n%s", strings.Join(p.output(), "\n"), p.stderr.String())
}

// lockedBuffer is a bytes.Buffer that a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitGone waits until no process has the given pid.
func waitGone(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still exists %v after its runner exited (kill 0: %v)", pid, timeout, err)
			return
		}
		time.Sleep(20 * time.Millisecond) // no signal to wait on for a stranger's exit
	}
}
