package resp

import (
	"context"
	"errors"
	"sync"
	"time"
)

// fakeStore is a Store in memory that keeps the contract: expired values are
// not found, and fail makes every call fail as an unreachable cluster does.
type fakeStore struct {
	now func() time.Time

	mu   sync.Mutex // guards the fields below
	vals map[string]fakeValue
	fail bool
}

type fakeValue struct {
	v   []byte
	exp time.Time
}

var errUnreachable = errors.New("store: unavailable: no member could coordinate the write")

func newFakeStore(now func() time.Time) *fakeStore {
	return &fakeStore{now: now, vals: map[string]fakeValue{}}
}

func (f *fakeStore) Lookup(ctx context.Context, key string) ([]byte, time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, time.Time{}, false, errUnreachable
	}
	v, ok := f.vals[key]
	if !ok || !v.exp.After(f.now()) {
		return nil, time.Time{}, false, nil
	}
	return v.v, v.exp, true, nil
}

func (f *fakeStore) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errUnreachable
	}
	f.vals[key] = fakeValue{append([]byte(nil), value...), exp}
	return nil
}

func (f *fakeStore) Delete(ctx context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errUnreachable
	}
	delete(f.vals, key)
	return nil
}

func (f *fakeStore) setFail(b bool) {
	f.mu.Lock()
	f.fail = b
	f.mu.Unlock()
}

// fakeKeys derives "keys" that name the label and the ID, to check the plumbing.
type fakeKeys struct{ id uint64 }

func (k fakeKeys) DeriveKey(label string, n int) (uint64, []byte, error) {
	b := make([]byte, n)
	copy(b, label)
	return k.id, b, nil
}
