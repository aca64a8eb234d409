package shard

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func keys(s *Shard) []string {
	var ks []string
	s.Range(t0, func(k string, _ []byte, _ time.Time) bool { ks = append(ks, k); return true })
	return ks
}

func TestPutGetDelete(t *testing.T) {
	s := New(1 << 20)
	if !s.Put("a", []byte("1"), at(time.Hour), t0, false) {
		t.Fatal("Put failed")
	}
	if v, ok, _ := s.Get("a", t0); !ok || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	s.Put("a", []byte("22"), at(time.Hour), t0, false)
	if v, _, _ := s.Get("a", t0); string(v) != "22" {
		t.Fatalf("Get after replace = %q", v)
	}
	if s.Len() != 1 || s.Bytes() != Cost(1, 2) {
		t.Errorf("Len %d Bytes %d, want 1 and %d", s.Len(), s.Bytes(), Cost(1, 2))
	}
	if !s.Delete("a") || s.Delete("a") {
		t.Error("Delete should succeed once")
	}
	if _, ok, _ := s.Get("a", t0); ok || s.Len() != 0 || s.Bytes() != 0 {
		t.Errorf("after Delete: Len %d Bytes %d", s.Len(), s.Bytes())
	}
}

func TestExpiry(t *testing.T) {
	s := New(1 << 20)
	s.Put("short", []byte("x"), at(time.Minute), t0, false)
	s.Put("long", []byte("x"), at(time.Hour), t0, false)
	if s.Put("past", []byte("x"), at(-time.Second), t0, false) {
		t.Error("stored an entry that had already expired")
	}
	if _, ok, _ := s.Get("short", at(time.Minute-1)); !ok {
		t.Error("entry gone before its time")
	}
	for range 2 { // an expired entry says so until it is dropped
		if _, ok, expired := s.Get("short", at(time.Minute)); ok || !expired {
			t.Errorf("at its expiry time: ok %v, expired %v; want false, true", ok, expired)
		}
	}
	if n := s.Expire(at(time.Minute)); n != 1 || s.Len() != 1 || s.Expirations != 1 {
		t.Errorf("Expire dropped %d, Len %d Expirations %d; want 1, 1, 1", n, s.Len(), s.Expirations)
	}
	if _, ok, expired := s.Get("short", at(time.Minute)); ok || expired {
		t.Errorf("after Expire: ok %v, expired %v; want false, false", ok, expired)
	}
	if n := s.Expire(at(2 * time.Hour)); n != 1 || s.Len() != 0 || s.Bytes() != 0 {
		t.Errorf("Expire dropped %d, Len %d Bytes %d", n, s.Len(), s.Bytes())
	}
}

func TestLRUEviction(t *testing.T) {
	per := Cost(1, 10)
	s := New(3 * per)
	for _, k := range []string{"a", "b", "c"} {
		s.Put(k, make([]byte, 10), at(time.Hour), t0, false)
	}
	s.Get("a", t0) // a is now the most recent; b the least
	s.Put("d", make([]byte, 10), at(time.Hour), t0, false)
	if got, want := keys(s), []string{"d", "a", "c"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if s.Evictions != 1 || s.Bytes() > s.Budget() {
		t.Errorf("Evictions %d, Bytes %d of %d", s.Evictions, s.Bytes(), s.Budget())
	}
}

// TestExpiredGoFirst: when room is needed, an expired entry is dropped even
// though it was used more recently than every valid one.
func TestExpiredGoFirst(t *testing.T) {
	per := Cost(1, 10)
	s := New(3 * per)
	s.Put("old", make([]byte, 10), at(time.Hour), t0, false)
	s.Put("dying", make([]byte, 10), at(time.Minute), t0, false)
	s.Put("new", make([]byte, 10), at(time.Hour), t0, false)
	s.Get("dying", t0)
	now := at(2 * time.Minute)
	s.Put("next", make([]byte, 10), at(time.Hour), now, false)
	var got []string
	s.Range(now, func(k string, _ []byte, _ time.Time) bool { got = append(got, k); return true })
	if want := []string{"next", "new", "old"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if s.Evictions != 0 || s.Expirations != 1 {
		t.Errorf("Evictions %d Expirations %d, want 0 and 1", s.Evictions, s.Expirations)
	}
}

func TestTooLargeIsRefused(t *testing.T) {
	s := New(1000)
	s.Put("a", make([]byte, 10), at(time.Hour), t0, false)
	if s.Put("b", make([]byte, 2000), at(time.Hour), t0, false) {
		t.Fatal("stored an entry larger than the budget")
	}
	if s.Len() != 1 {
		t.Errorf("a too-large entry evicted others: Len %d", s.Len())
	}
	// Replacing a key with a too-large value drops the old value rather than
	// serving it stale.
	s.Put("a", make([]byte, 2000), at(time.Hour), t0, false)
	if _, ok, _ := s.Get("a", t0); ok {
		t.Error("old value still served after a refused replacement")
	}
}

// TestBudgetUnderFlood: a flood of writes never takes the shard past its budget.
func TestBudgetUnderFlood(t *testing.T) {
	s := New(100 * Cost(32, 100))
	for i := range 10_000 {
		s.Put(fmt.Sprintf("%032d", i), make([]byte, 100), at(time.Hour), t0, false)
		if s.Bytes() > s.Budget() {
			t.Fatalf("after %d puts: %d bytes of %d", i, s.Bytes(), s.Budget())
		}
	}
	if s.Len() != 100 {
		t.Errorf("Len = %d, want 100", s.Len())
	}
}

func TestRangeStops(t *testing.T) {
	s := New(1 << 20)
	for _, k := range []string{"a", "b", "c"} {
		s.Put(k, nil, at(time.Hour), t0, false)
	}
	n := 0
	s.Range(t0, func(string, []byte, time.Time) bool { n++; return false })
	if n != 1 {
		t.Errorf("Range went on after false: %d calls", n)
	}
}

// TestCostMatchesHeap checks that Cost tells the truth: what the Go heap grows
// by when entries are added is within 20% of what the shard says it holds.
func TestCostMatchesHeap(t *testing.T) {
	const n = 200_000
	values := make([][]byte, n)
	keys := make([]string, n)
	for i := range values {
		keys[i] = fmt.Sprintf("%032d", i)
		values[i] = make([]byte, 91) // a TLS 1.3 session record
	}
	// The values are allocated before measuring and added below; Put clones
	// the keys, so their bytes are in the measurement.
	before := heapInUse()
	s := New(1 << 40)
	for i := range n {
		s.Put(keys[i], values[i], at(time.Hour), t0, false)
	}
	after := heapInUse()
	runtime.KeepAlive(s)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	measured := float64(after-before) + float64(n)*float64(allocSize(91))
	ratio := float64(s.Bytes()) / measured
	t.Logf("%d entries: shard counts %d bytes, heap grew %.0f (+ values): ratio %.2f; %.0f bytes/entry",
		n, s.Bytes(), measured, ratio, measured/n)
	if ratio < 0.8 || ratio > 1.2 {
		t.Errorf("Cost is off: counted/measured = %.2f", ratio)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func BenchmarkPutGet(b *testing.B) {
	s := New(64 << 20)
	ks := make([]string, 4096)
	for i := range ks {
		ks[i] = fmt.Sprintf("%032d", i)
	}
	v := make([]byte, 91)
	for i := 0; b.Loop(); i++ {
		k := ks[i%len(ks)]
		s.Put(k, v, at(time.Hour), t0, false)
		s.Get(k, t0)
	}
}

// TestKeptOutlastAFlood: kept entries (clients that came back) survive any
// number of ordinary ones (first visits, or a flood of handshakes), which
// evict each other; only when nothing ordinary is left do kept ones go,
// least recently used first.
func TestKeptOutlastAFlood(t *testing.T) {
	per := Cost(1, 1)
	s := New(10 * per)
	for i := range 4 {
		s.Put(fmt.Sprint("k", i), []byte("v"), at(time.Hour), t0, true)
	}
	for i := range 1000 {
		s.Put(fmt.Sprint(i%10), []byte("v"), at(time.Hour), t0, false) // keys of one byte: the same cost
		s.Put(fmt.Sprintf("%c", 'a'+i%26), []byte("v"), at(time.Hour), t0, false)
	}
	for i := range 4 {
		if _, ok, _ := s.Get(fmt.Sprint("k", i), t0); !ok {
			t.Errorf("kept entry k%d evicted by ordinary ones", i)
		}
	}
	if s.Bytes() > s.Budget() {
		t.Errorf("%d bytes over the budget of %d", s.Bytes(), s.Budget())
	}
	// Only kept ones: they go least recently used first.
	s = New(3 * per)
	for _, k := range []string{"a", "b", "c"} {
		s.Put(k, []byte("v"), at(time.Hour), t0, true)
	}
	s.Get("a", t0)
	s.Put("d", []byte("v"), at(time.Hour), t0, true)
	if got := keys(s); !slices.Equal(got, []string{"d", "a", "c"}) {
		t.Errorf("kept entries %v, want [d a c]: b was the least recently used", got)
	}
}
