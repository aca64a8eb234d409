package scsstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/scsstore"
)

// An scs session manager whose sessions every member of the cluster
// shares: the same lines on every member, behind any load balancer.
func Example() {
	cfg := sessionmesh.LocalConfig()
	cfg.Secret = sessionmesh.NewSecret() // in production: the same secret on every member
	member, err := sessionmesh.Start(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer member.Close()

	sessions := scs.New()
	sessions.Store = scsstore.New(member.WebSessions())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /visits", func(w http.ResponseWriter, r *http.Request) {
		n := sessions.GetInt(r.Context(), "visits") + 1
		sessions.Put(r.Context(), "visits", n)
		fmt.Fprintf(w, "visit %d\n", n)
	})
	handler := sessions.LoadAndSave(mux)

	// Serve handler over HTTPS on every member (with member.TLSConfig).
	// Here, a browser's two visits, the second with the first's cookie:
	first := httptest.NewRecorder()
	handler.ServeHTTP(first, httptest.NewRequest("GET", "/visits", nil))
	fmt.Print(first.Body)
	again := httptest.NewRequest("GET", "/visits", nil)
	for _, c := range first.Result().Cookies() {
		again.AddCookie(c)
	}
	second := httptest.NewRecorder()
	handler.ServeHTTP(second, again)
	fmt.Print(second.Body)
	// Output:
	// visit 1
	// visit 2
}
