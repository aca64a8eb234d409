package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
)

// newHandler returns the HTTP handler of node name.
//
// GET / tells the client, in plain text, which node answered, over which TLS
// version, and whether the connection resumed a session, so curl and a
// browser show it:
//
//	node: node-2
//	tls: TLSv1.3
//	resumed: yes
//	http: HTTP/2.0
//
// GET /status is the member's status page (or JSON) and GET /metrics its
// Prometheus metrics, both from ops (sessionmesh.Member.Handler). GET
// /visits and POST /logout are visits's (see newVisits).
func newHandler(name string, ops, visits http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		version, resumed := "none", "no"
		if r.TLS != nil {
			version = versionName(r.TLS.Version)
			if r.TLS.DidResume {
				resumed = "yes"
			}
		}
		fmt.Fprintf(w, "node: %s\ntls: %s\nresumed: %s\nhttp: %s\n", name, version, resumed, r.Proto)
	})
	mux.Handle("GET /status", ops)
	mux.Handle("GET /metrics", ops)
	mux.Handle("GET /visits", visits)
	mux.Handle("POST /logout", visits)
	return mux
}

// versionName names a TLS version the way openssl does ("TLSv1.3"), which is
// also the form of the runner's check lines.
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return tls.VersionName(v)
}
