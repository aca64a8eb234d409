package status

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// ServeHTTP answers GET and HEAD with the status page, or with Report as
// JSON when the request asks for it: ?format=json, or an Accept header that
// names application/json before any HTML type (?format=html asks for the
// page whatever the header says). Other methods get 405. The request's path
// does not matter, so the Status mounts under any prefix. It and Metrics
// answer 4 requests at once between them, and 503 Service Unavailable (with
// Retry-After) to more: a client that does not read its answer holds its
// place until the server's WriteTimeout.
func (s *Status) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w) {
		return
	}
	defer s.done()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	report := s.Report()
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			s.src.Logger.Debug("status: cannot write JSON", "err", err)
		}
		return
	}
	// Rendered first, so that a template error is a 500, not half a page.
	var buf bytes.Buffer
	if err := renderPage(&buf, s.page, report); err != nil {
		s.src.Logger.Error("status: cannot render the page", "err", err)
		http.Error(w, "cannot render the status page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// wantsJSON reports whether r asks for JSON: ?format=json, or an Accept
// header listing application/json before any HTML type. ?format=html asks
// for the page whatever the header says.
func wantsJSON(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return true
	case "html":
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			return true
		case "text/html", "application/xhtml+xml":
			return false
		}
	}
	return false
}
