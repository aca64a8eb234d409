package ticketkeys

import (
	"bytes"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testKey(id uint64, activate time.Duration) *key {
	k := &key{id: id, created: t0.Add(activate - time.Minute), activate: t0.Add(activate), expire: t0.Add(activate + 10*time.Hour)}
	k.secret[0] = byte(id)
	return k
}

func copies(keys ...*key) []*key {
	out := make([]*key, len(keys))
	for i, k := range keys {
		c := *k
		out[i] = &c
	}
	return out
}

// TestMergeOrderDoesNotMatter: sets that see the same keys in any order, any
// number of times, are the same set.
func TestMergeOrderDoesNotMatter(t *testing.T) {
	a, b, c := testKey(1, 0), testKey(2, time.Hour), testKey(3, 2*time.Hour)
	var x, y set
	x.merge(copies(a, b), t0)
	x.merge(copies(c), t0)
	x.merge(copies(a, b, c), t0) // again: nothing changes
	y.merge(copies(c, b), t0)
	y.merge(copies(a), t0)
	if x.digest() != y.digest() || len(x.keys) != 3 {
		t.Fatalf("digests %s and %s, %d keys", x.digest(), y.digest(), len(x.keys))
	}
	for i := range x.keys {
		if x.keys[i].id != uint64(i+1) || x.keys[i].id != y.keys[i].id {
			t.Fatalf("order differs at %d", i)
		}
	}
	if (&set{}).digest() != "-" {
		t.Error("empty digest")
	}
}

func TestCurrentAndPrune(t *testing.T) {
	a, b := testKey(1, 0), testKey(2, time.Hour)
	var s set
	s.merge([]*key{a, b}, t0)
	if got := s.current(t0.Add(-time.Second), true, nil); got != nil {
		t.Errorf("a key before any activation: %x", got.id)
	}
	if got := s.current(t0.Add(time.Hour), true, a); got != b {
		t.Error("agreed: the last activated key should encrypt")
	}
	if got := s.current(t0.Add(time.Hour), false, a); got != a {
		t.Error("not agreed: the key in use should stay")
	}
	if got := s.current(t0.Add(time.Hour), false, nil); got != b {
		t.Error("not agreed, nothing in use: the last activated key")
	}
	// A key whose time is up is dropped and wiped, unless it is in use.
	late := a.expire.Add(time.Second)
	if dropped := s.prune(late, a); len(dropped) != 0 {
		t.Error("dropped the key in use")
	}
	secret := a.secret
	if dropped := s.prune(late, b); len(dropped) != 1 || dropped[0] != 1 || s.get(1) != nil {
		t.Errorf("dropped %v", dropped)
	}
	if a.secret == secret || a.secret != [32]byte{} {
		t.Error("a dropped key was not wiped")
	}
	// An expired key that arrives again is not taken back.
	if s.merge(copies(testKey(1, 0)), late) {
		t.Error("an expired key came back")
	}
}

func TestKeysRoundTrip(t *testing.T) {
	in := []*key{testKey(1, 0), testKey(2, time.Hour)}
	out, err := decodeKeys(encodeKeys(in))
	if err != nil || len(out) != 2 {
		t.Fatalf("%v, %d keys", err, len(out))
	}
	for i := range in {
		if in[i].id != out[i].id || in[i].secret != out[i].secret || !in[i].created.Equal(out[i].created) ||
			!in[i].activate.Equal(out[i].activate) || !in[i].expire.Equal(out[i].expire) {
			t.Errorf("key %d: %+v, want %+v", i, out[i], in[i])
		}
	}
}

// FuzzDecodeKeys feeds arbitrary bytes to the key set decoder, as a node on
// another version could gossip. It must not panic, and what it accepts must
// survive re-encoding.
func FuzzDecodeKeys(f *testing.F) {
	f.Add(encodeKeys([]*key{testKey(1, 0), testKey(2, time.Hour)}))
	f.Add(encodeKeys(nil))
	f.Add([]byte{0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff}) // claims 4 billion keys
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := decodeKeys(b)
		if err != nil {
			return
		}
		again, err := decodeKeys(encodeKeys(keys))
		if err != nil || len(again) != len(keys) {
			t.Fatalf("re-encoding: %v, %d keys of %d", err, len(again), len(keys))
		}
		if !bytes.Equal(encodeKeys(again), encodeKeys(keys)) {
			t.Fatal("re-encoding changed the keys")
		}
	})
}
