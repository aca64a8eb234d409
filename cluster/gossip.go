package cluster

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate answers memberlist's questions about this node. memberlist calls it
// from its packet and stream handlers, so nothing here may block.
type delegate struct{ n *Node }

func (d delegate) NodeMeta(limit int) []byte {
	d.n.metaMu.Lock()
	m := d.n.meta
	d.n.metaMu.Unlock()
	b := encodeMeta(m)
	if len(b) > limit {
		d.n.logger.Error("node metadata too large; advertising none", "size", len(b), "limit", limit)
		return nil
	}
	return b
}

// NotifyMsg receives a gossiped update of shared state. memberlist may reuse
// b after the call; decoding copies what it keeps.
func (d delegate) NotifyMsg(b []byte) { d.n.mergeShares(b) }

func (d delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.broadcasts.GetBroadcasts(overhead, limit)
}

// LocalState and MergeRemoteState carry the shared state in push/pull, over
// TCP: on join and every push/pull interval.
func (d delegate) LocalState(join bool) []byte            { return d.n.localShares() }
func (d delegate) MergeRemoteState(buf []byte, join bool) { d.n.mergeShares(buf) }

// events feeds memberlist's membership callbacks into the member set. The
// callbacks run while memberlist holds its node lock, so they must neither
// block nor call back into memberlist (Members would deadlock).
type events struct{ s *memberSet }

func (e events) NotifyJoin(nd *memberlist.Node)   { e.s.update(nd) }
func (e events) NotifyUpdate(nd *memberlist.Node) { e.s.update(nd) }
func (e events) NotifyLeave(nd *memberlist.Node)  { e.s.remove(nd) }

// pings hands memberlist's answered probes to the member set: the only
// health memberlist reports per member. Called from memberlist's probe loop.
type pings struct{ s *memberSet }

func (pings) AckPayload() []byte { return nil }
func (p pings) NotifyPingComplete(nd *memberlist.Node, rtt time.Duration, _ []byte) {
	p.s.acked(nd.Name, rtt)
}

// logWriter turns memberlist's log lines ("[DEBUG] memberlist: ...") into
// leveled slog records. Its logger is set once the node knows its name.
//
// memberlist logs a line each time something fails (a probe, a push/pull),
// and a stranger on a member's own host can make things fail hundreds of
// times a minute, from as many source addresses as it likes. So each kind
// of line (see lineKind) is written at most once a logInterval: the first
// at once, later ones with how many like them were left out since.
type logWriter struct {
	l     atomic.Pointer[slog.Logger]
	quiet atomic.Bool // set by Close: memberlist's goroutines outlive Shutdown and complain

	mu    sync.Mutex
	kinds map[string]*logKind
	now   func() time.Time // time.Now; tests move it
}

// lineKind names the kind of a memberlist line: its text before the first
// colon, without the words that change from one line to the next (member
// names in quotes, addresses, numbers, key=value pairs). "Got ping for
// unexpected node 'node-2' from=127.0.21.9:49919" is "Got ping for
// unexpected node", whoever sends it; "Push/Pull with node-3 failed" is
// "Push/Pull with failed".
func lineKind(msg string) string {
	head, _, _ := strings.Cut(msg, ":")
	var words []string
	for _, w := range strings.Fields(head) {
		if !strings.ContainsAny(w, "0123456789'\"=[]()") {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}

// logKind is when a kind of line was last written, and how many were left
// out since.
type logKind struct {
	last    time.Time
	skipped int
}

// logInterval is the least time between two lines of a kind, and
// maxLogKinds how many kinds are remembered at once.
const (
	logInterval = time.Minute
	maxLogKinds = 256
)

func (w *logWriter) Write(p []byte) (int, error) {
	if w.quiet.Load() {
		return len(p), nil
	}
	l := w.l.Load()
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		level, msg := parseLogLine(sc.Text())
		if !l.Enabled(context.Background(), level) {
			continue
		}
		if write, skipped := w.admit(msg); write && skipped > 0 {
			l.Log(context.Background(), level, msg, "component", "memberlist", "similar_lines_left_out", skipped)
		} else if write {
			l.Log(context.Background(), level, msg, "component", "memberlist")
		}
	}
	return len(p), nil
}

// admit reports whether a line may be written now, and how many of its kind
// were left out since the last one written.
func (w *logWriter) admit(msg string) (write bool, skipped int) {
	kind := lineKind(msg)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.now != nil {
		now = w.now()
	}
	k := w.kinds[kind]
	if k == nil {
		if w.kinds == nil || len(w.kinds) >= maxLogKinds {
			w.kinds = make(map[string]*logKind) // forget the old kinds: at worst a line more each
		}
		w.kinds[kind] = &logKind{last: now}
		return true, 0
	}
	if now.Sub(k.last) < logInterval {
		k.skipped++
		return false, 0
	}
	skipped, k.last, k.skipped = k.skipped, now, 0
	return true, skipped
}

func parseLogLine(line string) (slog.Level, string) {
	level := slog.LevelInfo
	if rest, ok := strings.CutPrefix(line, "["); ok {
		if tag, msg, ok := strings.Cut(rest, "]"); ok {
			switch tag {
			case "DEBUG":
				level = slog.LevelDebug
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			line = strings.TrimSpace(msg)
		}
	}
	return level, strings.TrimPrefix(line, "memberlist: ")
}
