package shard_test

import (
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/store/internal/shard"
)

func Example() {
	now := time.Now()
	s := shard.New(2 * shard.Cost(1, 5)) // room for two small entries
	s.Put("a", []byte("apple"), now.Add(time.Hour), now, false)
	s.Put("b", []byte("berry"), now.Add(time.Hour), now, false)
	s.Get("a", now) // a is now the most recently used
	s.Put("c", []byte("cherry"), now.Add(time.Hour), now, false)

	_, okA, _ := s.Get("a", now)
	_, okB, _ := s.Get("b", now)
	fmt.Println("a kept:", okA, "b evicted:", !okB, "evictions:", s.Evictions)
	// Output: a kept: true b evicted: true evictions: 1
}
