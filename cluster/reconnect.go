package cluster

import (
	"time"
)

// failed is a member failure detection declared dead: it may be gone for
// good, or only on the other side of a partition.
type failed struct {
	addr  string
	since time.Time
	next  time.Time     // next attempt
	wait  time.Duration // until the attempt after next
}

// reconnect tries to reach failed members until they are back, left, or
// ReconnectTimeout passed. memberlist alone never dials a dead member again,
// so a cluster split by a partition would stay split after it heals: each side
// sees the other as dead. A successful push/pull with the other side brings
// the news that it declared us dead too, and both refute and rejoin.
func (n *Node) reconnect() {
	defer close(n.done)
	t := time.NewTicker(n.timing.ReconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		for name, f := range n.members.failures() {
			switch {
			case now.Sub(f.since) > n.timing.ReconnectTimeout:
				n.members.forgetFailure(name)
			case now.Before(f.next):
			default:
				if _, err := n.ml.Join([]string{f.addr}); err == nil {
					n.logger.Info("reconnected to a member declared dead", "member", name)
				} else {
					n.logger.Debug("member still unreachable", "member", name, "err", joinError(err))
				}
				n.members.backOff(name, now, n.timing.ReconnectInterval)
			}
		}
	}
}
