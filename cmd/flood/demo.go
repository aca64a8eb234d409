package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The demo (cmd/demo), as the suite runs it: its runner starts the node
// processes and prints the contract lines the suite reads; the nodes' logs
// come through its standard error.

// Bounds on the demo's start and stop, generous for a busy machine.
const (
	demoStartTimeout = 2 * time.Minute // to "check ok": the runner's own bound to "ready" is a minute
	demoStopTimeout  = 30 * time.Second
)

// demoRun is a running demo.
type demoRun struct {
	cmd    *exec.Cmd
	nodes  []node
	exited chan struct{}  // closed when the runner has exited and been waited for
	wg     sync.WaitGroup // the readers of its output
}

// findDemo returns the demo executable to run: path if given, else a file
// called demo next to this executable, else one built with "go build" in
// dir (removed by the caller) from the module the working directory is in.
func findDemo(ctx context.Context, path, dir string, stderr io.Writer) (string, error) {
	if path != "" {
		return path, nil
	}
	if self, err := os.Executable(); err == nil {
		near := filepath.Join(filepath.Dir(self), "demo")
		if st, err := os.Stat(near); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return near, nil
		}
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", errors.New("no demo: give -demo, or run flood inside the sessionmesh module so that it can build one")
	}
	out := filepath.Join(dir, "demo")
	fmt.Fprintf(stderr, "flood: building the demo: go build -o %s ./cmd/demo (in %s)\n", out, root)
	build := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/demo")
	build.Dir = root
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/demo: %v: %s", err, bytes.TrimSpace(msg))
	}
	return out, nil
}

// startDemo starts the demo at path and returns it once its self-check has
// passed. Its log lines and news go to j, and its standard error to logTo
// too if not nil.
func startDemo(ctx context.Context, path string, j *journal, logTo io.Writer) (*demoRun, error) {
	d := &demoRun{cmd: exec.Command(path), exited: make(chan struct{})}
	ownGroup(d.cmd)
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the demo: %w", err)
	}
	startup := make(chan string)   // stdout lines until the self-check's verdict
	started := make(chan struct{}) // closed when the start is over, well or not
	var tail lastLines             // its last log lines, to say why it failed
	d.wg.Go(func() {
		checked := false
		lines(stdout, func(s string) {
			j.out(s)
			if !checked {
				checked = s == "check ok" || s == "check failed"
				select {
				case startup <- s:
				case <-started:
					checked = true
				}
			}
		})
		close(startup)
	})
	d.wg.Go(func() {
		lines(stderr, func(s string) {
			j.log(s)
			tail.add(s)
			if logTo != nil {
				fmt.Fprintln(logTo, s)
			}
		})
	})
	go func() {
		d.wg.Wait() // the pipes are read to their end before Wait, as os/exec requires
		d.cmd.Wait()
		close(d.exited)
	}()
	err = d.awaitCheck(ctx, startup)
	close(started)
	if err != nil {
		d.stop()
		if t := tail.String(); t != "" {
			err = fmt.Errorf("%w; its last log lines: %s", err, t)
		}
		return nil, err
	}
	return d, nil
}

// awaitCheck reads the demo's contract lines until its self-check passes.
func (d *demoRun) awaitCheck(ctx context.Context, startup <-chan string) error {
	timeout := time.NewTimer(demoStartTimeout)
	defer timeout.Stop()
	ready := 0
	for {
		select {
		case s, ok := <-startup:
			if !ok {
				return errors.New("the demo exited before its self-check passed")
			}
			if n, isNode, err := parseNodeLine(s); err != nil {
				return err
			} else if isNode {
				d.nodes = append(d.nodes, n)
			}
			if n, ok := parseReady(s); ok {
				ready = n
			}
			switch s {
			case "check ok":
				if ready == 0 || ready != len(d.nodes) {
					return fmt.Errorf("the demo said ready %d nodes, and announced %d", ready, len(d.nodes))
				}
				return nil
			case "check failed":
				return errors.New("the demo's self-check failed: its nodes do not resume each other's sessions")
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return fmt.Errorf("the demo did not pass its self-check within %v", demoStartTimeout)
		}
	}
}

// stop stops the demo as Ctrl-C does: SIGINT to the runner, which stops its
// nodes and waits for them. If it has not exited within demoStopTimeout,
// it and its nodes are killed.
func (d *demoRun) stop() error {
	select {
	case <-d.exited:
		return nil
	default:
	}
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.exited:
		return nil
	case <-time.After(demoStopTimeout):
	}
	d.cmd.Process.Kill()
	for _, n := range d.nodes {
		// Its nodes stop when the runner dies (their standard input
		// closes); these are for a node that hangs.
		kill(n.pid)
	}
	<-d.exited
	return fmt.Errorf("the demo did not stop within %v of SIGINT; killed it", demoStopTimeout)
}

// running reports whether the runner is still running.
func (d *demoRun) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// lastLines keeps the last few lines it was given.
type lastLines struct {
	mu sync.Mutex // guards l
	l  []string
}

func (t *lastLines) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.l = append(t.l, s); len(t.l) > 3 {
		t.l = t.l[1:]
	}
}

func (t *lastLines) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.l, " / ")
}
