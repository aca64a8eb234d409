package ticketkeys_test

import (
	"fmt"
	"log"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
)

func Example() {
	cfg := cluster.LocalConfig()
	cfg.Name, cfg.Secret = "solo", cluster.NewSecret()
	node, err := cluster.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	// Seed the set so it is usable at once; without a seed, the first key
	// comes at the first check (a second), or with the join.
	seed := cluster.NewSecret()
	keys, err := ticketkeys.New(node, ticketkeys.Config{Seed: seed})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	for _, k := range keys.Keys() {
		fmt.Println(k.State)
	}
	// Output: active
}
