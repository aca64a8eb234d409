package main

import (
	"fmt"
	"io"
	"time"

	"github.com/sessionmesh/sessionmesh/store"
)

// ringPoll is how often a node looks at its ring. The store offers no
// notification of ring changes (cluster.Node.Watch fires before the store
// has rebuilt its ring), and Stats is cheap.
const ringPoll = 20 * time.Millisecond

// ringReporter prints a ring line whenever a node's ring, its data
// connections or its ticket key change: that is how the runner knows the
// cluster is whole and connected.
type ringReporter struct {
	quit chan struct{}
	done chan struct{}
}

func reportRing(st *store.Store, sh sharing, name string, out io.Writer) *ringReporter {
	r := &ringReporter{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(ringPoll)
		defer t.Stop()
		var last ringLine
		for {
			stats := st.Stats()
			l := ringLine{name: name, nodes: stats.RingNodes, peers: stats.PeersConnected, key: sh.activeKey()}
			// Zero is a store that has not built its first ring yet.
			if l != last && l.nodes > 0 {
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
