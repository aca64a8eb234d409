package resp_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/resp"
)

// A member of a cluster serves the Redis protocol on loopback; any Redis
// client stores and fetches values in the cluster through it.
func Example() {
	ctx := context.Background()
	cfg := sessionmesh.LocalConfig()
	cfg.Secret, cfg.ShareTicketKeys = sessionmesh.NewSecret(), true
	m, err := sessionmesh.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := resp.Listen("127.0.0.1:0", resp.Config{Store: m.WebSessions(), TicketKeys: m.TicketKeys()})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr().String(), Protocol: 2})
	if err := rdb.Set(ctx, "session:1f2e", "state", time.Hour).Err(); err != nil {
		log.Fatal(err)
	}
	v, _ := rdb.Get(ctx, "session:1f2e").Result()
	key, _ := rdb.Do(ctx, "SESSIONMESH.TICKETKEY").Text()
	fmt.Println(v, len(key))
	rdb.Close()

	srv.Close() // first the clients, then the member
	shutdown, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m.Shutdown(shutdown)
	// Output: state 48
}
