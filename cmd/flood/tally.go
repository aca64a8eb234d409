package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tally counts what an attack did. Its methods are safe for concurrent use
// by the attack's goroutines.
type tally struct {
	unit string       // what sent counts: "streams", "packets", "connections", ...
	sent atomic.Int64 // units the attack sent or opened
	cut  atomic.Int64 // of which the target closed or refused before the attack was done with them

	mu     sync.Mutex // guards notes, wrong and errors
	notes  []string   // what the attacker saw, for the details
	wrong  []string   // checks the attack makes itself that failed: a garbage ticket that broke a handshake
	errors []failure  // errors by kind, in the order the kinds first came
}

// failure counts the errors of a kind, and keeps the first.
type failure struct {
	kind  string
	first error
	n     int
}

func newTally(unit string) *tally { return &tally{unit: unit} }

// note records something the attacker saw.
func (t *tally) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// fail records a check that failed: a result the docs say cannot happen.
func (t *tally) fail(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.wrong = append(t.wrong, fmt.Sprintf(format, args...))
}

// failed counts an error of a kind ("connect", "handshake"), so that a
// flood of the same error is one line of the details.
func (t *tally) failed(kind string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.errors {
		if t.errors[i].kind == kind {
			t.errors[i].n++
			return
		}
	}
	t.errors = append(t.errors, failure{kind: kind, first: err, n: 1})
}

// results returns the notes, the errors counted, and the failed checks.
func (t *tally) results() (notes, wrong []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	notes = append([]string(nil), t.notes...)
	for _, f := range t.errors {
		notes = append(notes, fmt.Sprintf("%s %s errors, the first: %s", formatCount(int64(f.n)), f.kind, oneLine(f.first)))
	}
	return notes, append([]string(nil), t.wrong...)
}

// workers runs n copies of f and waits for them all. Each copy should
// return once ctx is done.
func workers(ctx context.Context, n int, f func(ctx context.Context)) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { f(ctx) })
	}
	wg.Wait()
}

// closeWith closes c as soon as ctx is done, which unblocks whatever reads
// or writes it; the returned function stops that (call it when done with c).
func closeWith(ctx context.Context, c net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.Close() })
}

// pause waits d, or until ctx is done: the backoff of an attack whose
// connection was refused at once, so that it knocks again soon but not in a
// tight loop that would measure this machine's CPU instead of the target.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
