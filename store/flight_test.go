package store

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestFlightBoundedByEachCaller: a caller that joins a search started by a
// caller with a shorter deadline is bounded by its own: when the first is
// cut off, the second searches again and gets the answer; a caller whose
// own deadline ends first stops waiting at once.
func TestFlightBoundedByEachCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f flights
		slow := func(ctx context.Context) ([]byte, error) { // an owner that never answers
			<-ctx.Done()
			return nil, ctx.Err()
		}
		fast := func(context.Context) ([]byte, error) { return []byte("record"), nil }

		short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		firstErr := make(chan error, 1)
		go func() { _, err := f.do(short, "id", slow); firstErr <- err }()
		synctest.Wait() // the first search is under way

		type result struct {
			val []byte
			err error
		}
		long, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		second := make(chan result, 1)
		go func() { v, err := f.do(long, "id", fast); second <- result{v, err} }()
		tiny, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		third := make(chan error, 1)
		go func() { _, err := f.do(tiny, "id", fast); third <- err }()
		synctest.Wait() // both wait for the first search

		if err := <-third; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the caller with 10ms: %v, want its own deadline", err)
		}
		if err := <-firstErr; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the first caller: %v, want its deadline", err)
		}
		if r := <-second; r.err != nil || string(r.val) != "record" {
			t.Errorf("the caller with 5s: %q, %v; want it to search again and find the record", r.val, r.err)
		}
		if time.Since(time.Unix(946684800, 0)) != 50*time.Millisecond {
			t.Errorf("took %v of fake time, want 50ms", time.Since(time.Unix(946684800, 0)))
		}
	})
}

// TestFlightShared: callers that arrive while a search is in flight share its
// result and do not search themselves.
func TestFlightShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f flights
		release := make(chan struct{})
		searches := 0
		search := func(context.Context) ([]byte, error) {
			searches++
			<-release
			return []byte("record"), nil
		}
		results := make(chan string, 3)
		for range 3 {
			go func() {
				v, err := f.do(t.Context(), "id", search)
				if err != nil {
					t.Error(err)
				}
				results <- string(v)
			}()
		}
		synctest.Wait()
		close(release)
		for range 3 {
			if v := <-results; v != "record" {
				t.Errorf("got %q", v)
			}
		}
		if searches != 1 {
			t.Errorf("%d searches, want 1", searches)
		}
	})
}
