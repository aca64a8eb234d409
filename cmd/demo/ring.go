package main

import (
	"fmt"
	"io"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
)

// ringPoll is how often a node looks at its ring. The store offers no
// notification of ring changes (cluster.Node.Watch fires before the store
// has rebuilt its ring), and Stats is cheap.
const ringPoll = 20 * time.Millisecond

// ringReporter prints a ring line whenever a node's view changes: in cache
// mode its ring and its data connections, in ticket mode its members and the
// key it encrypts with. That is how the runner knows the cluster is whole.
type ringReporter struct {
	quit chan struct{}
	done chan struct{}
}

func reportRing(n *node, out io.Writer) *ringReporter {
	r := &ringReporter{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(ringPoll)
		defer t.Stop()
		var last ringLine
		for {
			// Zero nodes is a store that has not built its first ring yet.
			if l := n.ring(); l != last && l.nodes > 0 {
				fmt.Fprintln(out, l)
				last = l
			}
			select {
			case <-r.quit:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// stop stops the reporter and waits for it.
func (r *ringReporter) stop() {
	close(r.quit)
	<-r.done
}

// ring returns n's ring line now.
func (n *node) ring() ringLine {
	l := ringLine{name: n.name}
	if st := n.member.Store(); st != nil {
		s := st.Stats()
		l.nodes, l.peers = s.RingNodes, s.PeersConnected
	} else {
		l.nodes = len(n.member.Node().Members())
	}
	if keys := n.member.TicketKeys(); keys != nil {
		for _, k := range keys.Keys() {
			if k.State == ticketkeys.Active {
				l.key = fmt.Sprintf("%016x", k.ID)
			}
		}
	}
	return l
}
