package store

import (
	"context"
	"fmt"
	"testing"
)

// The store's paths, side by side. Compare within one run; a shared machine
// makes absolute figures drift:
//
//	go test -run '^$' -bench . -benchmem ./store
//
// docs/performance.md records the figures and compares a Redis GET.

// BenchmarkPutLocal is what WrapSession costs the store: draw an ID this node
// owns (about n ring lookups for n nodes), store the record in memory and
// queue its copy for the replica.
func BenchmarkPutLocal(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprint(nodes, "-nodes"), func(b *testing.B) {
			tc := newTestCluster(b, nodes)
			s := tc.stores[0]
			r := tc.record(string(make([]byte, 57)))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Put(ctx, s.NewID(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetLocal is a lookup answered from this node's memory.
func BenchmarkGetLocal(b *testing.B) {
	tc := newTestCluster(b, 1)
	s := tc.stores[0]
	ids := fill(b, s, s, tc.record(string(make([]byte, 57))))
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetRemote is a lookup answered by another node over the peer
// channel: one request on the persistent mutual-TLS connection. Parallel
// runs many lookups at once on that one connection.
func BenchmarkGetRemote(b *testing.B) {
	// One copy of each record, or the reader would hold a replica of each.
	tc := newTestCluster(b, 2, func(c *Config) { c.Replicas = 1 })
	owner, reader := tc.stores[0], tc.stores[1]
	ids := fill(b, owner, owner, tc.record(string(make([]byte, 57))))
	ctx := context.Background()
	reader.Get(ctx, ids[0]) // connect
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := reader.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := reader.Get(ctx, ids[i%len(ids)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// fill stores 1024 records through via, with IDs that owner owns.
func fill(b *testing.B, owner, via *Store, r Record) []string {
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = owner.NewID()
		if err := via.Put(context.Background(), ids[i], r); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}
