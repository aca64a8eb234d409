package ring_test

import (
	"fmt"

	"github.com/sessionmesh/sessionmesh/store/internal/ring"
)

func Example() {
	r := ring.New([]string{"node-a", "node-b", "node-c"}, 0, nil)
	owners := r.Owners("some session id", 2)
	fmt.Println("owner and replica are distinct:", owners[0] != owners[1])
	fmt.Println("owner:", r.Owner("some session id") == owners[0])
	// Output:
	// owner and replica are distinct: true
	// owner: true
}
