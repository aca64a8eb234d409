package sessionmesh_test

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sessionmesh/sessionmesh"
)

// Two members on one host, each behind its own HTTPS server: a client's
// session from the first resumes on the second.
func Example() {
	ctx := context.Background()
	secret := sessionmesh.NewSecret() // in production: the same ParseSecret(...) on every member

	cfg := sessionmesh.LocalConfig() // loopback, free ports
	cfg.Secret = secret
	first, err := sessionmesh.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	cfg.Join = []string{first.GossipAddr()}
	second, err := sessionmesh.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer second.Close()

	var urls []string
	for _, m := range []*sessionmesh.Member{first, second} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "resumed=%v", r.TLS.DidResume)
		}))
		srv.TLS = m.TLSConfig(nil)
		srv.StartTLS()
		defer srv.Close()
		urls = append(urls, srv.URL)
	}

	// One client, one session cache, one server name, as behind a load balancer.
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "example.com", ClientSessionCache: tls.NewLRUClientSessionCache(8)},
		DisableKeepAlives: true,
	}
	for i, url := range urls {
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("member %d: %s\n", i+1, body)
	}

	// The first member leaves, handing its sessions to the second.
	shutdown, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Println("shutdown:", first.Shutdown(shutdown))
	// Output:
	// member 1: resumed=false
	// member 2: resumed=true
	// shutdown: <nil>
}

// An HTTPS server that shares its TLS sessions with the other servers of its
// cluster: the program README.md shows under "Embedding it" (a test keeps the
// two the same). Run the first with
//
//	SESSIONMESH_SECRET=$(head -c 32 /dev/urandom | base64) ./server
//
// and a second on the same host, with the same secret, on other ports:
//
//	./server -https :8444 -gossip :7956 -data :7957 -join 127.0.0.1:7946
func Example_server() {
	https := flag.String("https", ":8443", "HTTPS address, for clients")
	gossip := flag.String("gossip", ":7946", "gossip address (TCP and UDP), for the other members")
	data := flag.String("data", ":7947", "session data address, for the other members")
	join := flag.String("join", "", "gossip address of any member (empty on the first one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	secret, err := sessionmesh.ParseSecret(os.Getenv("SESSIONMESH_SECRET")) // the same on every member
	if err != nil {
		log.Fatal(err)
	}
	m, err := sessionmesh.Start(ctx, sessionmesh.Config{
		Secret:   secret,
		BindAddr: *gossip,
		DataAddr: *data,
		Join:     strings.Fields(*join),
		Logger:   slog.Default(),
	})
	if err != nil {
		log.Fatal(err) // a port in use, a name a live member has, no member answered...
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s resumed: %v\n", m.Name(), r.TLS.DidResume)
	})
	mux.Handle("/debug/sessionmesh/", m.Handler()) // status page, JSON, Prometheus: for operators only
	srv := &http.Server{
		Addr: *https, Handler: mux, TLSConfig: m.TLSConfig(nil),
		// A public server: bound what a slow or idle client may hold.
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServeTLS("cert.pem", "key.pem") }()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Print(err) // the HTTPS port is taken, say: stop the member too
	}
	// ctx is done by now: shut down with a context that is not.
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if err := m.Shutdown(shutdown); err != nil { // hands this member's sessions to the others
		log.Print(err)
	}
}
