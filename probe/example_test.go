package probe_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/selfsigned"
	"github.com/sessionmesh/sessionmesh/probe"
)

// Two HTTPS servers that encrypt session tickets with the same key, as the
// members of a sessionmesh cluster in ticket mode do: each resumes the
// other's sessions.
func Example() {
	cert, pool, err := selfsigned.New()
	if err != nil {
		log.Fatal(err)
	}
	var key [32]byte
	rand.Read(key[:])
	var addrs []string
	names := map[string]string{} // address -> a or b, for output that does not change
	for _, name := range []string{"a", "b"} {
		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.TLS.SetSessionTicketKeys([][32]byte{key})
		srv.StartTLS()
		defer srv.Close()
		addr := srv.Listener.Addr().String()
		addrs = append(addrs, addr)
		names[addr] = name
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The name clients ask for; the servers' certificate is valid for it.
	cfg := probe.Config{ServerName: "localhost", RootCAs: pool}
	results := probe.All(ctx, addrs, cfg)
	for _, r := range results {
		fmt.Printf("%s -> %s: %s\n", names[r.From], names[r.To], r)
	}
	fmt.Println("share sessions:", probe.OK(results))
	// Output:
	// a -> a: Reused TLSv1.3
	// a -> b: Reused TLSv1.3
	// b -> a: Reused TLSv1.3
	// b -> b: Reused TLSv1.3
	// share sessions: true
}
