package store_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store"
)

// A record stored on one node is read on another.
func Example() {
	secret := cluster.NewSecret()
	start := func(name string) (*cluster.Node, *store.Store) {
		cfg := cluster.LocalConfig()
		cfg.Name, cfg.Secret = name, secret
		n, err := cluster.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		// Replicas 1: b holds no copy of a's records, so it asks a. (With
		// the default 2, a's copy may reach b before b asks.)
		s, err := store.New(n, store.Config{Addr: "127.0.0.1:0", TLS: n.PeerTLS(), Replicas: 1})
		if err != nil {
			log.Fatal(err)
		}
		return n, s
	}
	na, a := start("a")
	nb, b := start("b")
	defer na.Close()
	defer nb.Close()
	defer a.Close()
	defer b.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nb.Join(ctx, na.Addr()); err != nil {
		log.Fatal(err)
	}
	for a.Stats().RingNodes < 2 || b.Stats().RingNodes < 2 {
		time.Sleep(10 * time.Millisecond) // until both have both on their ring
	}

	id := a.NewID() // an ID a owns: the Put stays local
	now := time.Now()
	err := a.Put(ctx, id, store.Record{
		Value:      []byte("session state"),
		ServerName: "www.example.com",
		Created:    now,
		Expires:    now.Add(time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	r, err := b.Get(ctx, id) // fetched from a
	fmt.Printf("%s for %s, %v\n", r.Value, r.ServerName, err)
	fmt.Printf("b: %d remote hit, a: served %d\n", b.Stats().RemoteHits, a.Stats().ServedGets)
	// Output:
	// session state for www.example.com, <nil>
	// b: 1 remote hit, a: served 1
}
