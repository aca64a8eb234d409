package main

import (
	"context"
	"sync"
)

// combo floods the target's gossip port with labelled UDP packets, pps a
// second from udpFrom, and holds slowloris streams, conns at each member's
// gossip port, from streamFrom. It is the attack that used to get a member
// declared dead: with its UDP probes lost in the flood, memberlist falls
// back to TCP pings and push/pull, over streams the slowloris took, both
// at the target and at the members that would vouch for it.
func combo(ctx context.Context, s scene, udpFrom, streamFrom *sources, pps, conns int, t *tally) {
	streams := newTally("streams")
	var wg sync.WaitGroup
	wg.Go(func() { gossipPackets(ctx, s.victim().gossip, udpFrom, pps, 1400, true, t) })
	for _, n := range s.nodes {
		wg.Go(func() { gossipStreams(ctx, n.gossip, streamFrom, conns, slowStream, 0, streams) })
	}
	wg.Wait()
	t.note("slowloris: %d streams from %s, %d at once at each member's gossip port; the members closed %d",
		streams.sent.Load(), streamFrom, conns, streams.cut.Load())
	notes, wrong := streams.results()
	for _, n := range notes {
		t.note("slowloris: %s", n)
	}
	for _, w := range wrong {
		t.fail("slowloris: %s", w)
	}
}
