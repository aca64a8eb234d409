package main

import (
	"context"
	"crypto/rand"
	"net"
	"time"

	"golang.org/x/time/rate"
)

// packetWorkers is how many goroutines send a packet flood: two send about
// 110,000 packets a second on a 2-core machine.
const packetWorkers = 2

// gossipPackets sends pps UDP packets a second of size bytes to the gossip
// port at addr until ctx is done, from the sources in turn. labelled packets
// carry the cluster's label and look encrypted, so the gate must run AES-GCM
// over each before it can refuse it; the others are refused on their first
// bytes.
func gossipPackets(ctx context.Context, addr string, from *sources, pps, size int, labelled bool, t *tally) {
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.fail("gossip address %s: %v", addr, err)
		return
	}
	pkt := make([]byte, size)
	rand.Read(pkt)
	if labelled {
		h := append([]byte{labelMsg, byte(len(gossipLabel))}, gossipLabel...)
		copy(pkt, h)
		pkt[len(h)] = 0 // the encryption version, then what would be nonce, ciphertext and tag
	} else {
		pkt[0] = 0 // an encrypted packet of a cluster without a label
	}
	// Packets go in batches: a limiter asked for every packet would cost
	// more than the sending.
	const batch = 50
	lim := rate.NewLimiter(rate.Limit(pps), batch*packetWorkers)
	workers(ctx, packetWorkers, func(ctx context.Context) {
		var conns []*net.UDPConn
		for range len(from.ips) {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: from.pick()})
			if err != nil {
				t.failed("bind", err)
				continue
			}
			defer c.Close()
			conns = append(conns, c)
		}
		if len(conns) == 0 {
			return
		}
		for i := 0; lim.WaitN(ctx, batch) == nil; {
			for range batch {
				if _, err := conns[i%len(conns)].WriteToUDP(pkt, to); err != nil {
					t.failed("send", err)
					time.Sleep(time.Millisecond) // a full socket buffer: let it drain
				} else {
					t.sent.Add(1)
				}
				i++
			}
		}
	})
}
