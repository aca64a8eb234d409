package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
)

// newNodeLogger returns a node's logger, writing slog text to w: warnings
// and errors, or everything when verbose. silence stops it for good.
func newNodeLogger(w io.Writer, verbose bool) (logger *slog.Logger, silence func()) {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	h := silenceable{Handler: slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}), off: new(atomic.Bool)}
	return slog.New(h), func() { h.off.Store(true) }
}

// silenceable drops every record once off is set. A node silences its
// logger as it closes its cluster membership: memberlist's Shutdown does not
// wait for its probe and gossip goroutines, which then log errors about the
// sockets Shutdown has just closed. Those errors are noise, not news.
type silenceable struct {
	slog.Handler
	off *atomic.Bool
}

func (h silenceable) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.off.Load() && h.Handler.Enabled(ctx, l)
}

func (h silenceable) Handle(ctx context.Context, r slog.Record) error {
	if h.off.Load() {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h silenceable) WithAttrs(as []slog.Attr) slog.Handler {
	return silenceable{Handler: h.Handler.WithAttrs(as), off: h.off}
}

func (h silenceable) WithGroup(name string) slog.Handler {
	return silenceable{Handler: h.Handler.WithGroup(name), off: h.off}
}
