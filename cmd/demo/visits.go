package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/time/rate"

	"github.com/sessionmesh/sessionmesh/scsstore"
	"github.com/sessionmesh/sessionmesh/store"
)

// newVisits returns the web session part of node name's handler: a page
// counter in an scs session that every node shares through the cluster
// (web), as a service behind a load balancer keeps a user's login.
//
// GET /visits counts the visit and answers {"node": name, "visits": N};
// POST /logout destroys the session, so the next visit counts 1. Both
// answer 503 with {"error": ...} when the members that hold the session are
// out of reach (the user is not logged out by a cluster in trouble), and
// 501 in ticket mode, which has no store for web sessions.
func newVisits(name string, web *store.WebSessions, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	if web == nil {
		unavailable := func(w http.ResponseWriter, r *http.Request) {
			reply(w, http.StatusNotImplemented, map[string]any{"node": name,
				"error": "web sessions need a store: run the demo with -resumption cache (or off), not tickets"})
		}
		mux.HandleFunc("GET /visits", unavailable)
		mux.HandleFunc("POST /logout", unavailable)
		return mux
	}
	sessions := scs.New()
	sessions.Store = scsstore.New(web)
	sessions.Cookie.Name = "session"
	sessions.Cookie.Secure = true
	// One line a minute at most, however many requests fail: a client's
	// requests must not become log lines.
	var failed atomic.Uint64
	logOnce := &rate.Sometimes{First: 1, Interval: time.Minute}
	sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		failed.Add(1)
		logOnce.Do(func() {
			logger.Warn("web session unavailable (at most one such line a minute)", "failed_requests_since_last_line", failed.Swap(0), "path", r.URL.Path, "err", err)
		})
		reply(w, http.StatusServiceUnavailable, map[string]any{"node": name, "error": "the session is out of reach for now; try again"})
	}
	mux.HandleFunc("GET /visits", func(w http.ResponseWriter, r *http.Request) {
		n := sessions.GetInt(r.Context(), "visits") + 1
		sessions.Put(r.Context(), "visits", n)
		reply(w, http.StatusOK, map[string]any{"node": name, "visits": n})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Destroy(r.Context()); err != nil {
			sessions.ErrorFunc(w, r, err)
			return
		}
		reply(w, http.StatusOK, map[string]any{"node": name, "visits": 0})
	})
	return sessions.LoadAndSave(mux)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
