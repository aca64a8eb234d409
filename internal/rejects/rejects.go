// Package rejects counts the traffic a member refuses (packets and
// connections from outside the cluster, or from a member that speaks
// nonsense) and reports it in the log without letting a flood turn the log
// into an amplifier: the first refusal of each kind is logged at once, with
// where it came from, and after that one line per interval sums up what was
// refused, only if anything was.
package rejects

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Log counts refusals by kind. It is safe for concurrent use; Add costs an
// atomic increment (and a map lookup) after the first refusal of a kind.
type Log struct {
	what     string // what refuses, for the log lines: "gossip", "data channel"
	logger   atomic.Pointer[slog.Logger]
	interval time.Duration

	mu       sync.Mutex // guards counts' keys and reported
	counts   map[string]*atomic.Uint64
	reported map[string]uint64 // counts at the last summary

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a Log that sums up every interval on its own goroutine, until Close.
func New(what string, logger *slog.Logger, interval time.Duration) *Log {
	l := &Log{
		what: what, interval: interval,
		counts: make(map[string]*atomic.Uint64), reported: make(map[string]uint64),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	l.logger.Store(logger)
	go l.run()
	return l
}

// SetLogger replaces the logger, for an owner that learns what to call
// itself after it has started counting.
func (l *Log) SetLogger(logger *slog.Logger) { l.logger.Store(logger) }

// Add counts one refusal of kind, from the address from (a net.Addr, a
// string, or nil; formatted for the first refusal's log line only, so that a
// flood allocates nothing), for the reason err (may be nil).
func (l *Log) Add(kind string, from any, err error) {
	l.mu.Lock()
	c, ok := l.counts[kind]
	if !ok {
		c = new(atomic.Uint64)
		l.counts[kind] = c
	}
	l.mu.Unlock()
	if c.Add(1) == 1 {
		args := []any{"kind", kind}
		if from != nil && from != "" {
			args = append(args, "from", fmt.Sprint(from))
		}
		if err != nil {
			args = append(args, "err", err)
		}
		l.logger.Load().Warn(fmt.Sprintf("%s refused traffic; further refusals are summed up every %v", l.what, l.interval), args...)
	}
}

// Counts returns how many refusals of each kind there were.
func (l *Log) Counts() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]uint64, len(l.counts))
	for k, c := range l.counts {
		out[k] = c.Load()
	}
	return out
}

// Close stops the summaries, writing the last one if anything is unreported,
// and waits. It is safe to call twice.
func (l *Log) Close() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
	})
}

func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.summarize()
			return
		case <-t.C:
			l.summarize()
		}
	}
}

// summarize logs what was refused since the last summary, if anything.
func (l *Log) summarize() {
	now := l.Counts()
	l.mu.Lock()
	var args []any
	for _, k := range slices.Sorted(maps.Keys(now)) {
		if d := now[k] - l.reported[k]; d > 0 {
			args = append(args, k, d)
		}
	}
	l.reported = now
	l.mu.Unlock()
	if len(args) > 0 {
		l.logger.Load().Warn(fmt.Sprintf("%s refused traffic in the last %v", l.what, l.interval), args...)
	}
}
