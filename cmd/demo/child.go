package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
)

// child is a node process the runner started. Only the runner's event loop
// touches its fields.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.Closer // closing it stops the node (-stop-on-stdin-eof)

	up      bool     // its node line arrived
	info    nodeLine // that line
	ring    ringLine // its ring, connections and key, as it last said
	exited  bool
	exitErr error // from Wait
}

// event is news from a child: a line it printed, or its exit (the last event).
type event struct {
	child  *child
	line   any // a nodeLine or a ringLine
	exited bool
	err    error // Wait's result, when exited
}

// startChild starts the node process called name with the node command's
// extra args. One goroutine per child, owned by r.wg, reads its output and
// sends events until the process has exited and been waited for.
func (r *runner) startChild(name string, args ...string) (*child, error) {
	args = append([]string{"node", "-name", name, "-stop-on-stdin-eof"}, args...)
	cmd := exec.Command(r.exe, args...)
	cmd.Env = r.env
	stderr := &prefixWriter{out: r.stderr, prefix: "[" + name + "] "}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	// The node stops when this pipe closes (see -stop-on-stdin-eof). The
	// runner never writes to it, and closes it to stop the whole cluster;
	// Wait closes it too, and so does the runner's death.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin}
	r.children = append(r.children, c)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.readChild(c, stdout)
		err := cmd.Wait() // after the last read, as os/exec requires
		stderr.flush()
		r.events <- event{child: c, exited: true, err: err}
	}()
	return c, nil
}

// readChild turns c's output lines into events until the output ends. A line
// it does not understand goes to standard error, so nothing is lost.
func (r *runner) readChild(c *child, stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line, err := parseLine(sc.Text())
		if err != nil {
			r.stderr.printf("[%s] %s\n", c.name, sc.Text())
			continue
		}
		r.events <- event{child: c, line: line}
	}
	// A line too long for the scanner: drain the rest, so the node never
	// blocks writing to us.
	io.Copy(io.Discard, stdout)
}

// describeExit says how a child's process ended, for a person.
func describeExit(c *child) string {
	if ps := c.cmd.ProcessState; ps != nil {
		return ps.String() // "exit status 1", "signal: killed"
	}
	if c.exitErr != nil {
		return c.exitErr.Error()
	}
	return "exited"
}
