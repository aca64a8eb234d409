package main

import (
	"io"
	"log/slog"
)

// newNodeLogger returns a node's logger, writing slog text to w: warnings
// and errors, or everything when verbose.
func newNodeLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
