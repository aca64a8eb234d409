package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrNameTaken means another live member of the cluster already has this
// node's name. Members are told apart by name alone, so two with one name
// break the ring for both: give every member its own Name.
var ErrNameTaken = errors.New("cluster: name already taken")

// joinReport is how often Join says that it is still trying.
const joinReport = 10 * time.Second

// Join contacts the seed addresses (host:port; host names are resolved,
// several addresses per name are fine) and joins their cluster. Until a seed
// answers it retries, backing off up to 2 s, until ctx ends; the first
// failure and then one line every 10 s are logged at Warn, with the reason
// for each seed. Joining a node's own address is harmless, but it counts as
// an answer: if every seed is this node, Join returns at once and the node
// stays a cluster of one until another joins it.
//
// If a live member already holds this node's name, Join returns an error
// wrapping ErrNameTaken that names it. If the holder does not answer (this
// node's own previous process, say, that crashed and has not been declared
// dead yet), Join keeps trying until the cluster has declared it dead and
// takes this node under the name, and logs that it waits.
func (n *Node) Join(ctx context.Context, seeds ...string) error {
	if len(seeds) == 0 {
		return errors.New("cluster: Join needs at least one seed address (host:port of any member)")
	}
	for _, s := range seeds {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("cluster: Join: seed %q: want host:port: %w", s, err)
		}
	}
	backoff := 50 * time.Millisecond
	start := time.Now()
	var lastReport time.Time
	for attempt := 1; ; attempt++ {
		if n.isClosed() {
			return ErrClosed
		}
		n.clash.Store(nil)
		joined, err := n.ml.Join(seeds)
		if holder := n.clash.Load(); holder != nil {
			if n.answers(holder) {
				return fmt.Errorf("%w: the member at %s is called %q too: give every member its own Name (the default, host:port, is unique)",
					ErrNameTaken, holder, n.name)
			}
			err = fmt.Errorf("the name %q is held by the member at %s, which does not answer: if that was this member before a restart, "+
				"the cluster takes this one once it has declared that one dead", n.name, holder)
		} else if joined > 0 {
			n.logger.Info("joined cluster", "contacted", joined, "members", n.ml.NumMembers())
			return nil
		} else {
			err = joinError(err)
		}
		if time.Since(lastReport) >= joinReport {
			lastReport = time.Now()
			n.logger.Warn("cannot join the cluster yet; retrying", "seeds", seeds, "attempts", attempt,
				"for", time.Since(start).Round(time.Second), "err", oneLine(err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: join %s: %w after %d attempts (last: %s)", strings.Join(seeds, ", "), ctx.Err(), attempt, oneLine(err))
		case <-n.stop:
			return ErrClosed
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// answers reports whether a member with this node's name answers a probe at
// addr: a live process, not the stale entry of one that crashed.
func (n *Node) answers(addr *net.UDPAddr) bool {
	for range 2 { // a probe is one UDP packet; give a lost one a second chance
		if _, err := n.ml.Ping(n.name, addr); err == nil {
			return true
		}
	}
	return false
}

// conflicts hears from memberlist that another node claims a member's name
// from another address. It runs under memberlist's node lock: it only
// records the clash.
type conflicts struct{ n *Node }

func (c conflicts) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name != c.n.name {
		return // two others clash; their own nodes will say so
	}
	addr := &net.UDPAddr{IP: append(net.IP(nil), other.Addr...), Port: int(other.Port)}
	c.n.clash.Store(addr)
	c.n.logger.Warn("another process claims this member's name", "name", c.n.name, "at", addr.String())
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
