package cluster

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"strings"
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
type logWriter struct {
	l     atomic.Pointer[slog.Logger]
	quiet atomic.Bool // set by Close: memberlist's goroutines outlive Shutdown and complain
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.quiet.Load() {
		return len(p), nil
	}
	l := w.l.Load()
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		level, msg := parseLogLine(sc.Text())
		if l.Enabled(context.Background(), level) {
			l.Log(context.Background(), level, msg, "component", "memberlist")
		}
	}
	return len(p), nil
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
