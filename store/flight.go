package store

import (
	"context"
	"sync"
)

// flights coalesces concurrent lookups of one ID (a client offering the same
// ticket on several connections at once) into one search, while bounding
// every caller by its own context.
//
// Why not golang/groupcache's singleflight, which this replaced: its Do runs
// the search under the first caller's context and makes everyone wait for
// it, so a Get with a 5 s deadline that joined one with a 50 ms deadline
// failed after 50 ms. Here the first caller searches on its own goroutine
// under its own context; the others wait only as long as theirs allows, and
// if the search was cut short by the first caller's context while theirs
// still has time, they search again themselves.
type flights struct {
	mu sync.Mutex // guards m
	m  map[string]*flight
}

// flight is one search in progress.
type flight struct {
	done    chan struct{} // closed when val and err are set
	waiting int           // callers waiting for it besides its searcher; guarded by flights.mu
	val     []byte
	err     error
	cutOff  bool // the searcher's context ended: the result says nothing about the record
}

// do returns search's result for key, running it under ctx unless a search
// for key is already in flight, in which case it waits for that one until
// ctx ends.
func (f *flights) do(ctx context.Context, key string, search func(context.Context) ([]byte, error)) ([]byte, error) {
	for {
		f.mu.Lock()
		if fl, ok := f.m[key]; ok {
			fl.waiting++
			f.mu.Unlock()
			select {
			case <-fl.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if fl.cutOff && ctx.Err() == nil {
				continue // its searcher gave up early; this caller has time left
			}
			return fl.val, fl.err
		}
		fl := &flight{done: make(chan struct{})}
		if f.m == nil {
			f.m = make(map[string]*flight)
		}
		f.m[key] = fl
		f.mu.Unlock()

		fl.val, fl.err = search(ctx)
		fl.cutOff = fl.err != nil && ctx.Err() != nil
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(fl.done)
		return fl.val, fl.err
	}
}
