package main

import (
	"bytes"
	"encoding/json"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// statusHandler answers GET /status: the status page, or its facts as JSON
// when the request asks for them with ?format=json or an Accept header that
// names application/json (and not text/html).
type statusHandler struct {
	src    *statusSource
	page   *template.Template
	logger *slog.Logger
}

func newStatusHandler(src *statusSource, logger *slog.Logger) *statusHandler {
	return &statusHandler{src: src, page: statusTemplate(), logger: logger}
}

func (h *statusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	report := h.src.report()
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			h.logger.Debug("status: cannot write JSON", "err", err)
		}
		return
	}
	// Rendered first, so that a template error is a 500, not half a page.
	var buf bytes.Buffer
	if err := renderStatus(&buf, h.page, report); err != nil {
		h.logger.Error("status: cannot render the page", "err", err)
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
