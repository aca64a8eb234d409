package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"time"
)

// Gossip streams (TCP) as memberlist frames them: the label header
// [244, len, label...], then an encrypted message [10, length uint32,
// version, nonce, ciphertext, tag]. The gate reads the header, refuses an
// announced length over the cluster's limit at once, reads a message within
// the limit whole and tries to decrypt it. Nothing a stranger sends
// decrypts, so every stream is refused; the question is what the refusing
// costs.
const (
	gossipLabel = "sessionmesh" // cluster.Config.Label's default, the demo's
	labelMsg    = 244           // memberlist's label header
	encryptMsg  = 10            // memberlist's encrypted message
)

// streamHead is the start of a stream announcing an encrypted message of n bytes.
func streamHead(label string, n uint32) []byte {
	h := append([]byte{labelMsg, byte(len(label))}, label...)
	h = append(h, encryptMsg)
	return binary.BigEndian.AppendUint32(h, n)
}

// streamLimit is the longest message the gate accepts from a stranger in a
// cluster of members nodes (cluster.Node.maxStream): 256 KiB, plus 2 KiB a member.
func streamLimit(members int) int { return 256<<10 + 2<<10*members }

// streamMode is what each stream of an attack does after it connects.
type streamMode int

const (
	hugeStream streamMode = iota // announces 20 MiB, memberlist's own limit, then sends junk until closed
	fullStream                   // announces the most the gate accepts, sends it all, waits for the verdict
	slowStream                   // sends one byte of the header, then nothing, until closed
)

// hugeLength is what a hugeStream announces: memberlist's own limit, which
// it used to buffer whole, per stream, before it checked anything.
const hugeLength = 20 << 20

// gossipStreams keeps conns streams open to the gossip port at addr, from
// the sources in turn, until ctx is done: each does what mode says, and
// another opens when the member closes it. length is what a fullStream
// announces.
func gossipStreams(ctx context.Context, addr string, from *sources, conns int, mode streamMode, length int, t *tally) {
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	junk[0] = 0 // the encryption version: the gate has to try to decrypt it
	workers(ctx, conns, func(ctx context.Context) {
		for ctx.Err() == nil {
			if gossipStream(ctx, addr, from, mode, length, junk, t) {
				// Refused, at once (no slot free) or after a deadline:
				// knock again soon, but not in a loop as tight as this
				// machine allows, which would measure the machine.
				pause(ctx, 20*time.Millisecond)
			}
		}
	})
}

// gossipStream opens one stream and reports whether the member closed it
// before ctx was done.
func gossipStream(ctx context.Context, addr string, from *sources, mode streamMode, length int, junk []byte, t *tally) (cut bool) {
	c, err := from.dial(ctx, addr)
	if err != nil {
		if ctx.Err() == nil {
			t.failed("connect", err)
			pause(ctx, 10*time.Millisecond)
		}
		return false
	}
	t.sent.Add(1)
	stop := closeWith(ctx, c)
	closed := make(chan struct{}) // the member closed the stream, or ctx did
	go func() {
		io.Copy(io.Discard, c)
		close(closed)
	}()
	switch mode {
	case hugeStream:
		sendStream(c, hugeLength, junk)
	case fullStream:
		sendStream(c, length, junk)
	case slowStream:
		c.Write([]byte{labelMsg})
	}
	<-closed // the verdict: a member closes every stranger's stream, sooner or later
	stop()
	c.Close()
	if ctx.Err() != nil {
		return false
	}
	t.cut.Add(1)
	return true
}

// sendStream sends the head of a stream announcing n bytes, then n bytes of
// junk, until done or a write fails (the member closed the stream).
func sendStream(w io.Writer, n int, junk []byte) {
	if _, err := w.Write(streamHead(gossipLabel, uint32(n))); err != nil {
		return
	}
	for left := n; left > 0; {
		k, err := w.Write(junk[:min(left, len(junk))])
		if err != nil {
			return
		}
		left -= k
	}
}
