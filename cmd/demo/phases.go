package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The runner's phases. Each loops over its nodes' events (the runner's only
// source of news about them) until its work is done; handle applies an event
// the way the current phase wants.

// phase is where the runner is in its life; it decides what news means.
type phase int

const (
	starting phase = iota // a node that exits now is fatal
	checking              // a node that exits now is reported, and the check fails
	serving               // nodes' exits and ring changes are reported
	stopping              // exits are expected
)

// startNodes starts the nodes one after another, each once the one before
// it is up: the first starts the cluster and the others join it.
func (r *runner) startNodes(ctx context.Context, deadline <-chan time.Time) error {
	for i := range r.opts.nodes {
		args := r.opts.mode.args()
		if i > 0 {
			args = append(args, "-join", r.children[0].info.gossip)
		}
		c, err := r.startChild(fmt.Sprintf("node-%d", i+1), args...)
		if err != nil {
			return err
		}
		if err := r.await(ctx, deadline, c.name+" did not come up", func() bool { return c.up }); err != nil {
			return err
		}
	}
	return nil
}

// awaitReady waits until every node has every node on its ring and a live
// data connection to each other one — so that no lookup pays for a
// connection — or, in ticket mode, sees every node and encrypts with the
// same key as all the others.
func (r *runner) awaitReady(ctx context.Context, deadline <-chan time.Time) error {
	return r.await(ctx, deadline, "the nodes did not all see each other", func() bool {
		key := r.children[0].ring.key
		tickets := r.opts.mode.resumption == ticketMode
		for _, c := range r.children {
			// Ticket mode has no data connections to count.
			if c.ring.nodes != len(r.children) || (!tickets && c.ring.peers != len(r.children)-1) || c.ring.key != key {
				return false
			}
		}
		return !tickets || key != ""
	})
}

// await handles events until done reports true.
func (r *runner) await(ctx context.Context, deadline <-chan time.Time, what string, done func() bool) error {
	for !done() {
		select {
		case ev := <-r.events:
			if err := r.handle(ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return errInterrupted
		case <-deadline:
			return fmt.Errorf("%s within %v", what, readyTimeout)
		}
	}
	return nil
}

// check runs the self-check, while the event loop goes on.
func (r *runner) check(ctx context.Context) (bool, error) {
	r.phase = checking
	targets := r.targets()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := make(chan bool, 1)
	go func() { result <- selfCheck(ctx, targets, r.roots, r.stdout, r.stderr) }()
	for {
		select {
		case ok := <-result:
			if ctx.Err() != nil {
				return false, errInterrupted
			}
			return ok, nil
		case ev := <-r.events:
			r.handle(ev)
		}
	}
}

// serve reports on the nodes, and their resumption rates, until ctx ends.
func (r *runner) serve(ctx context.Context) error {
	r.phase = serving
	rates := reportRates(r.targets(), r.roots, r.stdout)
	defer rates.stop()
	for {
		select {
		case ev := <-r.events:
			r.handle(ev)
			if r.running() == 0 {
				return errors.New("every node has exited")
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// handle applies an event to the runner's picture of its nodes and reports
// it as the phase wants. In the starting phase a node's exit is an error.
func (r *runner) handle(ev event) error {
	c := ev.child
	switch l := ev.line.(type) {
	case nodeLine:
		if !c.up {
			c.up, c.info = true, l
			r.stdout.printf("%s\n", l)
		}
	case ringLine:
		// Connections come and go with lookups; membership and keys are news.
		if r.phase == serving && (c.ring.nodes != l.nodes || c.ring.key != l.key) {
			r.stdout.printf("%s\n", l)
		}
		c.ring = l
	}
	if !ev.exited {
		return nil
	}
	c.exited, c.exitErr = true, ev.err
	switch r.phase {
	case starting:
		return fmt.Errorf("%s exited before the cluster was ready: %s", c.name, describeExit(c))
	case checking, serving:
		r.stdout.printf("down %s pid=%d: %s (%d of the runner's %d nodes still running)\n",
			c.name, c.cmd.Process.Pid, describeExit(c), r.running(), len(r.children))
	}
	return nil
}

// running counts the nodes that have not exited.
func (r *runner) running() int {
	n := 0
	for _, c := range r.children {
		if !c.exited {
			n++
		}
	}
	return n
}

// nodeLines returns the node lines of the nodes that came up, in order.
func (r *runner) nodeLines() []nodeLine {
	var ls []nodeLine
	for _, c := range r.children {
		if c.up {
			ls = append(ls, c.info)
		}
	}
	return ls
}

// targets returns the HTTPS servers of the nodes that came up, in order.
func (r *runner) targets() []target {
	var ts []target
	for _, l := range r.nodeLines() {
		ts = append(ts, target{name: l.name, addr: l.tls})
	}
	return ts
}

// stop stops every node still running, together, and waits for them all,
// killing those that take longer than stopTimeout. The whole cluster goes, so
// there is nobody to hand sessions to: the runner says so once, and closes
// each node's standard input, which stops it at once (a node stopped alone,
// by SIGTERM, hands its sessions to the others instead).
func (r *runner) stop() {
	serving := r.phase == serving
	r.phase = stopping
	running := 0
	for _, c := range r.children {
		if !c.exited {
			running++
		}
	}
	if running > 0 && serving {
		r.stderr.printf("demo: stopping %d nodes; the sessions they hold go with them (nothing is on disk)\n", running)
	}
	for _, c := range r.children {
		if !c.exited {
			c.stdin.Close()
		}
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	deadline := timer.C
	for r.running() > 0 {
		select {
		case ev := <-r.events:
			r.handle(ev)
		case <-deadline:
			for _, c := range r.children {
				if !c.exited {
					r.stderr.printf("demo: %s did not stop within %v; killing it\n", c.name, stopTimeout)
					c.cmd.Process.Kill()
				}
			}
			deadline = nil
		}
	}
	r.wg.Wait()
}
