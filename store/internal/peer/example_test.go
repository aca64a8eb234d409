package peer_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster"
	"github.com/sessionmesh/sessionmesh/store/internal/peer"
)

func Example() {
	secret := cluster.NewSecret()
	serverTLS, _ := cluster.PeerTLSConfig("server", secret)
	clientTLS, _ := cluster.PeerTLSConfig("client", secret)

	// A server whose handler knows one key.
	srv := peer.NewServer(peer.HandlerFunc(func(r *peer.Request) peer.Response {
		if r.Op == peer.OpGet && r.Key == "greeting" {
			return peer.Response{Value: []byte("hello")}
		}
		return peer.Response{Status: peer.StatusNotFound}
	}), serverTLS, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	c := peer.NewClient(ln.Addr().String(), clientTLS, nil, nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, key := range []string{"greeting", "farewell"} {
		resp, err := c.Do(ctx, &peer.Request{Op: peer.OpGet, Key: key})
		fmt.Printf("%s: %v %q %v\n", key, resp.Status, resp.Value, err)
	}
	// Output:
	// greeting: ok "hello" <nil>
	// farewell: not found "" <nil>
}
