package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// atoiHash reads hashes off the strings themselves, so that owners can be
// worked out by hand: a key "23" hashes to 23, and virtual node v of node "2"
// (label "v-2") hashes to the digits 2 then v: 20, 21, 22.
func atoiHash(s string) uint64 {
	if v, n, ok := strings.Cut(s, "-"); ok {
		s = n + v
	}
	h, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return h
}

func TestOwnersByHand(t *testing.T) {
	// Nodes "2", "4", "6" with 3 virtual nodes each sit at
	// 20 21 22 | 40 41 42 | 60 61 62.
	r := New([]string{"6", "4", "2"}, 3, atoiHash)
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"2", []string{"2", "4", "6"}},
		{"11", []string{"2", "4", "6"}},
		{"22", []string{"2", "4", "6"}},
		{"23", []string{"4", "6", "2"}},
		{"42", []string{"4", "6", "2"}},
		{"43", []string{"6", "2", "4"}},
		{"62", []string{"6", "2", "4"}},
		{"63", []string{"2", "4", "6"}}, // wraps around
	} {
		if got := r.Owner(tc.key); got != tc.want[0] {
			t.Errorf("Owner(%s) = %s, want %s", tc.key, got, tc.want[0])
		}
		if got := r.Owners(tc.key, 3); !slices.Equal(got, tc.want) {
			t.Errorf("Owners(%s, 3) = %v, want %v", tc.key, got, tc.want)
		}
		if got := r.Owners(tc.key, 10); !slices.Equal(got, tc.want) {
			t.Errorf("Owners(%s, 10) = %v, want all three", tc.key, got)
		}
		if got := r.Owners(tc.key, 2); !slices.Equal(got, tc.want[:2]) {
			t.Errorf("Owners(%s, 2) = %v, want %v", tc.key, got, tc.want[:2])
		}
	}

	// Adding node "3" (30 31 32) takes over exactly the keys in (22, 32].
	r2 := New([]string{"2", "4", "6", "3"}, 3, atoiHash)
	for _, tc := range []struct{ key, want string }{
		{"22", "2"}, {"23", "3"}, {"32", "3"}, {"33", "4"}, {"63", "2"},
	} {
		if got := r2.Owner(tc.key); got != tc.want {
			t.Errorf("after adding 3: Owner(%s) = %s, want %s", tc.key, got, tc.want)
		}
	}
}

func TestEmptyRing(t *testing.T) {
	r := New(nil, 0, nil)
	if got := r.Owner("x"); got != "" {
		t.Errorf("Owner on empty ring = %q", got)
	}
	if got := r.Owners("x", 2); got != nil {
		t.Errorf("Owners on empty ring = %v", got)
	}
	if r.Len() != 0 || r.Has("x") {
		t.Error("empty ring has nodes")
	}
}

func TestSameSetSameRing(t *testing.T) {
	a := New([]string{"c", "a", "b", "a"}, 0, nil)
	b := New([]string{"b", "c", "a"}, 0, nil)
	if !slices.Equal(a.Nodes(), []string{"a", "b", "c"}) {
		t.Fatalf("Nodes = %v", a.Nodes())
	}
	for _, key := range randomKeys(1000, 1) {
		if !slices.Equal(a.Owners(key, 2), b.Owners(key, 2)) {
			t.Fatalf("rings of the same set disagree on %x", key)
		}
	}
}

// TestBalance: with 200k random IDs the busiest of 50 nodes holds at most
// 1.15× the mean. (groupcache's crc32 ring with 50 virtual nodes is 1.58× at
// 10 nodes.)
func TestBalance(t *testing.T) {
	for _, size := range []int{3, 10, 50} {
		r := New(nodeNames(size), 0, nil)
		count := make(map[string]int)
		keys := randomKeys(200_000, 42)
		for _, k := range keys {
			count[r.Owner(k)]++
		}
		mean := float64(len(keys)) / float64(size)
		busiest := 0
		for _, c := range count {
			busiest = max(busiest, c)
		}
		ratio := float64(busiest) / mean
		t.Logf("%d nodes: busiest holds %.3f× the mean", size, ratio)
		if len(count) != size || ratio > 1.15 {
			t.Errorf("%d nodes: %d own keys, busiest %.3f× the mean; want all, ≤ 1.15×", size, len(count), ratio)
		}
	}
}

func TestShare(t *testing.T) {
	// By hand: nodes "2", "4", "6" at 20 21 22 | 40 41 42 | 60 61 62. Node 4
	// owns (22, 42]: 20 of the 2⁶⁴ positions.
	r := New([]string{"2", "4", "6"}, 3, atoiHash)
	if got, want := r.Share("4"), 20.0/(1<<64); got != want {
		t.Errorf("Share(4) = %g, want %g", got, want)
	}
	if r.Share("nope") != 0 || New([]string{"x"}, 0, nil).Share("x") != 1 {
		t.Error("Share of an absent or a lone node")
	}
	r = New(nodeNames(10), 0, nil)
	total := 0.0
	for _, n := range r.Nodes() {
		total += r.Share(n)
	}
	if total < 0.999999 || total > 1.000001 {
		t.Errorf("shares add up to %v", total)
	}
}

// TestMinimalMovement: adding an 11th node moves about 1/11 of the keys, all
// of them to the new node; removing it moves them back.
func TestMinimalMovement(t *testing.T) {
	before := New(nodeNames(10), 0, nil)
	after := New(nodeNames(11), 0, nil)
	keys := randomKeys(100_000, 7)
	moved := 0
	for _, k := range keys {
		if o := after.Owner(k); o != before.Owner(k) {
			moved++
			if o != "node-10" {
				t.Fatalf("key moved between old nodes, to %s", o)
			}
		}
	}
	share := float64(moved) / float64(len(keys))
	if share < 0.07 || share > 0.115 {
		t.Errorf("%.3f of keys moved, want about 1/11", share)
	}
}

func TestReplicasAreDistinct(t *testing.T) {
	r := New(nodeNames(5), 0, nil)
	for _, k := range randomKeys(10_000, 3) {
		o := r.Owners(k, 3)
		if len(o) != 3 || o[0] == o[1] || o[1] == o[2] || o[0] == o[2] {
			t.Fatalf("Owners = %v", o)
		}
		if o[0] != r.Owner(k) {
			t.Fatalf("Owners[0] = %s, Owner = %s", o[0], r.Owner(k))
		}
	}
}

func nodeNames(n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("node-%d", i))
	}
	return s
}

// randomKeys returns n 32-byte keys from a seeded generator: deterministic.
func randomKeys(n int, seed byte) []string {
	rng := rand.NewChaCha8([32]byte{seed})
	keys := make([]string, n)
	b := make([]byte, 32)
	for i := range keys {
		rng.Read(b)
		keys[i] = string(b)
	}
	return keys
}

func BenchmarkOwner(b *testing.B) {
	r := New(nodeNames(50), 0, nil)
	keys := randomKeys(1024, 1)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Owner(keys[i%len(keys)])
	}
}

func BenchmarkNew50(b *testing.B) {
	nodes := nodeNames(50)
	for b.Loop() {
		New(nodes, 0, nil)
	}
}
