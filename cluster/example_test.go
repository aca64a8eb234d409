package cluster_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
)

// Two nodes on this host form a cluster. In production each would run
// LANConfig in its own process, with the secret from a secret store.
func Example() {
	secret := cluster.NewSecret()
	start := func(name string) *cluster.Node {
		cfg := cluster.LocalConfig()
		cfg.Name, cfg.Secret = name, secret
		n, err := cluster.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		return n
	}
	a, b := start("a"), start("b")
	defer a.Close()
	defer b.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Join(ctx, a.Addr()); err != nil {
		log.Fatal(err)
	}
	b.Advertise("127.0.0.1:7947", 1) // what the store does once it listens

	// Wait until a has heard of b's data channel.
	changes, stop := a.Watch()
	defer stop()
	for range changes {
		if ms := a.Members(); len(ms) == 2 && ms[1].DataAddr != "" {
			for _, m := range ms {
				fmt.Printf("%s local=%v data=%q\n", m.Name, m.Local, m.DataAddr)
			}
			break
		}
	}
	// Output:
	// a local=true data=""
	// b local=false data="127.0.0.1:7947"
}

// A secret travels as base64 text, in an environment variable or a secret store.
func ExampleParseSecret() {
	text := cluster.EncodeSecret(cluster.NewSecret()) // once, when setting the cluster up
	secret, err := cluster.ParseSecret(text)          // on every node
	fmt.Println(len(secret), err)
	// Output: 32 <nil>
}
