package main

import (
	"context"
	"fmt"
)

// attack is one way to flood a member, with the bound on its memory that
// the docs claim the attack cannot break. (The other bounds are the same for
// every attack: see judge.)
type attack struct {
	name string // on the command line and in the table
	aim  string // the port it floods
	what string // what it does, for "flood list" and the details
	size string // how much, as set: "60 streams at once"
	unit string // what its tally counts, per second in the table
	from string // its source addresses (see parseSources)
	rss  int64  // the most the target's resident memory may grow while it runs
	run  func(ctx context.Context, s scene, from *sources, t *tally)
}

const mib = 1 << 20

// Memory bounds: what the design lets a flood make a member hold, with room
// for the garbage collector, which lets the heap grow to twice what is live
// before it collects.
const (
	// The gate buffers at most 8 strangers' streams of at most 256 KiB
	// and 2 KiB a member, about 2 MiB; packets cost no allocation.
	gossipRSS = 16 * mib
	// Admission lets 32 strangers' connections at once reach a TLS handshake.
	dataRSS = 16 * mib
	// An HTTPS connection held open costs net/http and crypto/tls a
	// connection, its buffers and a goroutine, up to about 64 KiB while a
	// request is read: twice that with the collector's room. The demo's
	// server holds at most 1,000 (cmd/demo), so 125 MiB at most.
	connRSS = 128 << 10
	// An HTTP/2 stream whose response cannot be sent costs its handler's
	// goroutine and buffers, about 16 KiB; the server allows 32 a
	// connection, so 32,000 streams on 1,000 connections.
	streamRSS = 32 << 10
	// A flood of full handshakes also stores a session per handshake (about
	// 300 bytes, twice with the replica); the store's budget, 256 MiB, is
	// far from reached in a minute.
	handshakeRSS = 64 * mib
)

// catalog returns every attack, in the order the suite runs them: the
// cheapest for the attacker first, each port's in turn, and the combination
// that used to get a member declared dead last.
func catalog() []attack {
	return []attack{
		{
			name: "gossip-tcp-huge", aim: "gossip TCP", unit: "streams", from: "127.0.0.2", rss: gossipRSS,
			size: "60 at once",
			what: "streams announcing a 20 MiB message (memberlist's own limit), then sending junk until closed",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				gossipStreams(ctx, s.victim().gossip, from, 60, hugeStream, 0, t)
			},
		},
		{
			name: "gossip-tcp-full", aim: "gossip TCP", unit: "streams", from: "127.0.0.2", rss: gossipRSS,
			size: "60 at once",
			what: "streams announcing the longest message the gate accepts (256 KiB + 2 KiB a member), then sending it all, junk that must be decrypted to be refused",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				gossipStreams(ctx, s.victim().gossip, from, 60, fullStream, streamLimit(len(s.nodes)), t)
			},
		},
		{
			name: "gossip-tcp-many", aim: "gossip TCP", unit: "streams", from: "127.0.0.2-65", rss: gossipRSS,
			size: "64 at once",
			what: "gossip-tcp-full from 64 addresses, one stream each: enough strangers to take all 8 of their slots",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				gossipStreams(ctx, s.victim().gossip, from, 64, fullStream, streamLimit(len(s.nodes)), t)
			},
		},
		{
			name: "gossip-tcp-slow", aim: "gossip TCP", unit: "streams", from: "127.0.0.2-17", rss: gossipRSS,
			size: "32 at once",
			what: "slowloris: streams that send one byte of their header and nothing more, 2 from each of 16 addresses, every strangers' slot",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				gossipStreams(ctx, s.victim().gossip, from, 32, slowStream, 0, t)
			},
		},
		{
			name: "gossip-udp", aim: "gossip UDP", unit: "packets", from: "127.0.0.2", rss: gossipRSS,
			size: "100,000/s × 1,400 B",
			what: "packets with the cluster's label that look encrypted: the gate runs AES-GCM over each to refuse it",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				gossipPackets(ctx, s.victim().gossip, from, 100_000, 1400, true, t)
			},
		},
		{
			name: "gossip-udp-nolabel", aim: "gossip UDP", unit: "packets", from: "127.0.0.2", rss: gossipRSS,
			size: "100,000/s × 1,400 B",
			what: "packets without the label, refused on their first bytes",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				gossipPackets(ctx, s.victim().gossip, from, 100_000, 1400, false, t)
			},
		},
		{
			name: "gossip-udp-many", aim: "gossip UDP", unit: "packets", from: "127.0.0.2-65", rss: gossipRSS,
			size: "100,000/s × 1,400 B",
			what: "gossip-udp from 64 addresses in turn",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				gossipPackets(ctx, s.victim().gossip, from, 100_000, 1400, true, t)
			},
		},
		{
			name: "data-tcp", aim: "data", unit: "connections", from: "127.0.0.2", rss: dataRSS,
			size: "5,000/s",
			what: "connections that send 64 bytes of junk and reset",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				dataConnects(ctx, s.victim().data, from, 5000, 64, t)
			},
		},
		{
			name: "data-tls", aim: "data", unit: "handshakes", from: "127.0.0.2", rss: dataRSS,
			size: "1,000/s",
			what: "TLS 1.3 handshakes without a client certificate",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				dataHandshakes(ctx, s.victim().data, from, 1000, 32, t)
			},
		},
		{
			name: "data-hold", aim: "data", unit: "connections", from: "127.0.0.2-17", rss: dataRSS,
			size: "64 at once",
			what: "connections holding a ClientHello that never comes whole, 4 from each of 16 addresses: twice the 32 places for strangers' handshakes",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				dataHolders(ctx, s.victim().data, from, 64, t)
			},
		},
		{
			name: "https-idle", aim: "HTTPS", unit: "connections", from: "127.0.0.2", rss: 900 * connRSS,
			size: "900 at once",
			what: "keep-alive connections that make one request and stay idle until closed",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				httpsHolders(ctx, s.victim().tls, from, 900, idleConn, t)
			},
		},
		{
			name: "https-slowhdr", aim: "HTTPS", unit: "connections", from: "127.0.0.2", rss: 900 * connRSS,
			size: "900 at once",
			what: "requests whose headers come a byte a second, never finished",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				httpsHolders(ctx, s.victim().tls, from, 900, slowHeaders, t)
			},
		},
		{
			name: "https-slowbody", aim: "HTTPS", unit: "connections", from: "127.0.0.2", rss: 900 * connRSS,
			size: "900 at once",
			what: "POSTs announcing 100,000 bytes and sending one a second",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				httpsHolders(ctx, s.victim().tls, from, 900, slowBody, t)
			},
		},
		{
			name: "https-cap", aim: "HTTPS", unit: "connections", from: "127.0.0.2", rss: 1000 * connRSS,
			size: "1,500 at once",
			what: "keep-alive connections that make a request every 10 s, so that no timeout cuts them: more than the server's 1,000",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				httpsHolders(ctx, s.victim().tls, from, 1500, keepAlive, t)
			},
		},
		{
			name: "h2-zero", aim: "HTTPS", unit: "streams", from: "127.0.0.2", rss: 100 * 32 * streamRSS,
			size: "100 connections × 32 streams",
			what: "HTTP/2 requests for / over connections with a zero window: the response can never be sent, and the server's WriteTimeout ends each stream",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				h2Holders(ctx, s.victim().tls, from, 100, 32, "/", t)
			},
		},
		{
			name: "h2-zero-metrics", aim: "HTTPS", unit: "streams", from: "127.0.0.2", rss: 100 * 32 * streamRSS,
			size: "100 connections × 32 streams",
			what: "h2-zero for /metrics, which the demo serves on its public port: each request gathers every metric before it can block",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				h2Holders(ctx, s.victim().tls, from, 100, 32, "/metrics", t)
			},
		},
		{
			name: "metrics-abort", aim: "HTTPS", unit: "requests", from: "127.0.0.2", rss: 1000 * connRSS,
			size: "100/s HTTP/1.1 + 4 HTTP/2 connections × 32 streams every 100 ms",
			what: "requests for /metrics abandoned at once: HTTP/1.1 connections reset, HTTP/2 streams cancelled",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				metricsAborts(ctx, s.victim().tls, from, 100, 4, "/metrics", t)
			},
		},
		{
			name: "tls-garbage", aim: "HTTPS", unit: "ClientHellos", from: "127.0.0.2", rss: dataRSS,
			size: "300/s × 5 identities",
			what: "garbage tickets and PSK identities, checked once to cost a full handshake, never a failed one, then ClientHellos with 5 random 32-byte identities each, which the target looks up",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				garbageTickets(ctx, s, from, 300, 16, t)
			},
		},
		{
			name: "hs-flood", aim: "HTTPS", unit: "handshakes", from: "127.0.0.2", rss: handshakeRSS,
			size: "500/s, 32 returning clients",
			what: "full TLS 1.3 handshakes of first visits, each storing a session, then a check that 32 clients who had come back before still resume",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				handshakeFlood(ctx, s, from, 32, 500, 16, t)
			},
		},
		{
			name: "combo", aim: "gossip", unit: "packets", from: "127.0.0.2-17", rss: gossipRSS,
			size: "100,000 packets/s + 32 slowloris streams at each member",
			what: "gossip-udp at the target and gossip-tcp-slow at every member at once: the attack that used to get a member declared dead",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				combo(ctx, s, from, from, 100_000, 32, t)
			},
		},
		{
			name: "combo-same-host", aim: "gossip", unit: "packets", from: "127.0.0.1", rss: gossipRSS,
			size: "100,000 packets/s + 32 slowloris streams at each member",
			what: "combo from 127.0.0.1, the members' own address: a stranger on the members' host, whom the gate takes for a member",
			run: func(ctx context.Context, s scene, from *sources, t *tally) {
				combo(ctx, s, from, from, 100_000, 32, t)
			},
		},
	}
}

// find returns the attack called name.
func find(name string) (attack, error) {
	for _, a := range catalog() {
		if a.name == name {
			return a, nil
		}
	}
	return attack{}, fmt.Errorf("no attack called %q (flood list lists them)", name)
}
