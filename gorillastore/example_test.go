package gorillastore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gorilla/securecookie"

	"github.com/sessionmesh/sessionmesh"
	"github.com/sessionmesh/sessionmesh/gorillastore"
)

// A gorilla/sessions store whose sessions every member of the cluster
// shares; the cookie carries only the signed session ID.
func Example() {
	cfg := sessionmesh.LocalConfig()
	cfg.Secret = sessionmesh.NewSecret() // in production: the same secret on every member
	member, err := sessionmesh.Start(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer member.Close()

	// In production, a hash key kept secret and the same on every member.
	sessions := gorillastore.New(member.WebSessions(), securecookie.GenerateRandomKey(32))

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session, err := sessions.Get(r, "session")
		if err != nil { // the cluster could not say: don't start the user afresh
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		n, _ := session.Values["visits"].(int)
		session.Values["visits"] = n + 1
		if err := session.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d\n", n+1)
	})

	// Serve handler over HTTPS on every member (with member.TLSConfig).
	// Here, a browser's two visits, the second with the first's cookie:
	first := httptest.NewRecorder()
	handler.ServeHTTP(first, httptest.NewRequest("GET", "/", nil))
	fmt.Print(first.Body)
	again := httptest.NewRequest("GET", "/", nil)
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
