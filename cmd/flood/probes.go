package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/sessionmesh/sessionmesh/probe"
)

// probeCount is what the probes of a window found.
type probeCount struct {
	resumed, total int
	misses         []string // the first few probes that did not resume, and why
}

// maxMisses is how many misses a window describes; the rest are counted.
const maxMisses = 5

// probeTimeout bounds each of a probe's two connections: long enough for a
// busy machine, short enough that a probe a second stays about that.
const probeTimeout = 3 * time.Second

// probe makes one cross-node resumption probe every probeEvery until ctx is
// done, each pair including the target: a session made on another member
// offered to the target, then one made on the target offered to another,
// over every other member in turn, in TLS 1.3 and then TLS 1.2. A probe
// that takes longer than probeEvery delays the next; one that the window's
// end cuts short does not count.
func (win *window) probe(ctx context.Context) {
	s := win.w.scene
	var pairs [][2]node
	for _, o := range s.others() {
		pairs = append(pairs, [2]node{o, s.victim()}, [2]node{s.victim(), o})
	}
	if len(pairs) == 0 {
		return
	}
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pair := pairs[k%len(pairs)]
		version := uint16(tls.VersionTLS13)
		if (k/len(pairs))%2 == 1 {
			version = tls.VersionTLS12
		}
		r := probe.Pair(ctx, pair[0].tls, pair[1].tls, probe.Config{
			ServerName: serverName, InsecureSkipVerify: true, Version: version, Timeout: probeTimeout,
		})
		if ctx.Err() != nil {
			return
		}
		win.mu.Lock()
		c := &win.m.probes
		c.total++
		if r.Resumed {
			c.resumed++
		} else if len(c.misses) < maxMisses {
			why := r.Note
			if r.Err != nil {
				why = oneLine(r.Err)
			}
			c.misses = append(c.misses, fmt.Sprintf("%s %s -> %s: %s %s", win.at(time.Now()), pair[0].name, pair[1].name, r, why))
		}
		win.mu.Unlock()
	}
}
