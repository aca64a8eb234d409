package store

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkRedisGet is the yardstick: the same records fetched from a
// redis-server on loopback with go-redis, as a Redis-backed session cache
// would, in the same run as BenchmarkGetRemote. Skipped without redis-server
// (apt-get install redis-server).
func BenchmarkRedisGet(b *testing.B) {
	rdb := startRedis(b)
	ctx := context.Background()
	val, err := (&Record{Value: make([]byte, 57), ServerName: "a.example", Expires: time.Now().Add(time.Hour)}).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("%032d", i)
		if err := rdb.Set(ctx, keys[i], val, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := rdb.Get(ctx, keys[i%len(keys)]).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := rdb.Get(ctx, keys[i%len(keys)]).Bytes(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// startRedis runs a throwaway redis-server without persistence on a free
// loopback port, and a client for it.
func startRedis(b *testing.B) *redis.Client {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		b.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), PoolSize: 16})
	b.Cleanup(func() { rdb.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			b.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rdb
}
