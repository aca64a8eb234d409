package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// stream returns the start of a gossip stream as memberlist sends one: the
// label header, then an encrypted message's type and announced length.
func stream(label string, length uint32) []byte {
	b := []byte{labelMsg, byte(len(label))}
	b = append(b, label...)
	b = append(b, encryptMsg)
	return binary.BigEndian.AppendUint32(b, length)
}

// TestGateRefusesHugeStreams: streams that announce 20 MiB are closed after
// their header, before any of the 20 MiB is read: the sender cannot get it
// all through. Counted, logged once, and the node stays in its cluster.
func TestGateRefusesHugeStreams(t *testing.T) {
	var logs syncBuffer
	secret := NewSecret()
	cfg := LocalConfig()
	cfg.Name, cfg.Secret = "target", secret
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	target, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	other := startNode(t, "other", secret)
	if err := other.Join(ctxFor(t, 10*time.Second), target.Addr()); err != nil {
		t.Fatal(err)
	}

	const attackers = 60
	junk := make([]byte, 20<<20)
	var wg sync.WaitGroup
	sent := make(chan int64, attackers)
	for range attackers {
		wg.Go(func() {
			c, err := net.Dial("tcp", target.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			c.Write(stream("sessionmesh", 20<<20))
			n, _ := io.Copy(c, bytes.NewReader(junk)) // fails once the gate has closed the connection
			sent <- n
		})
	}
	wg.Wait()
	close(sent)
	for n := range sent {
		if n == int64(len(junk)) {
			t.Errorf("an attacker got all 20 MiB through")
			break
		}
	}
	// Those that found a slot free are refused for their size; the others,
	// while the slots were taken, for being too many.
	rej := target.Stats().Rejected
	if rej[rejectStreamSize] == 0 || rej[rejectStreamSize]+rej[rejectStreamBusy] != attackers {
		t.Errorf("refusals %v; want %d streams refused for size or number", rej, attackers)
	}
	if n := strings.Count(logs.String(), "\n"); n > 3 {
		t.Errorf("%d log lines for the flood, want one:\n%s", n, logs.String())
	}
	// Still a member, and still able to gossip over TCP.
	late := startNode(t, "late", secret)
	if err := late.Join(ctxFor(t, 10*time.Second), target.Addr()); err != nil {
		t.Fatalf("join after the flood: %v", err)
	}
	waitMembers(t, target, func(ms []Member) bool { return len(ms) == 3 })
}

// TestGateRefusesStrangers: a stream of the right size that does not
// decrypt, a stream without encryption, another cluster's label, and UDP
// packets that do not decrypt are refused and counted, each kind logged
// once, and memberlist never logs them.
func TestGateRefusesStrangers(t *testing.T) {
	var logs syncBuffer
	cfg := LocalConfig()
	cfg.Name, cfg.Secret = "target", NewSecret()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	target, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()

	noise := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	send := func(b []byte) {
		c, err := net.Dial("tcp", target.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(b)
		io.Copy(io.Discard, c) // until the gate closes it
	}
	for range 5 {
		send(append(stream("sessionmesh", 4096), noise(4096)...))
		send(append([]byte{labelMsg, 11}, "sessionmesh\x06plain state"...)) // pushPullMsg, unencrypted
		send(append(stream("othercluster", 100), noise(100)...))
	}
	udp, err := net.Dial("udp", target.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for range 200 {
		pkt := append([]byte{labelMsg, 11}, "sessionmesh"...)
		udp.Write(append(pkt, noise(200)...))
		udp.Write(noise(300)) // no label
	}
	want := map[string]uint64{rejectStream: 5, rejectStreamPlain: 5, rejectStreamLabel: 5, rejectPacket: 200, rejectPacketLabel: 200}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := target.Stats().Rejected
		ok := true
		for k, n := range want {
			ok = ok && got[k] == n
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refusals counted %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "component=memberlist") {
		t.Errorf("memberlist saw strangers' traffic:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "refused traffic"); n != len(want) {
		t.Errorf("%d refusal lines, want one per kind (%d):\n%s", n, len(want), logs.String())
	}
}

// TestGateBoundsSlowStreams: streams that send their header slowly hold at
// most maxStreams slots, each for at most the TCP timeout; more are closed
// at once.
func TestGateBoundsSlowStreams(t *testing.T) {
	target := startNode(t, "target", NewSecret())
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range maxStreams {
		c, err := net.Dial("tcp", target.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{labelMsg}) // and then nothing
		conns = append(conns, c)
	}
	waitFor := func(cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting; refusals %v", target.Stats().Rejected)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(func() bool { return len(target.gate.slots) == maxStreams })
	extra, err := net.Dial("tcp", target.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := io.Copy(io.Discard, extra); n != 0 || err != nil {
		t.Errorf("the stream over the limit got %d bytes, %v; want it closed", n, err)
	}
	if got := target.Stats().Rejected[rejectStreamBusy]; got != 1 {
		t.Errorf("%d streams refused as too many, want 1", got)
	}
	// The slow ones are cut off after the TCP timeout, freeing their slots.
	waitFor(func() bool { return target.Stats().Rejected[rejectStreamTimedOut] == maxStreams })
	waitFor(func() bool { return len(target.gate.slots) == 0 })
}
