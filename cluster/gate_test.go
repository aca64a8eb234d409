package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/rejects"
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
		cut, err := net.Dial("tcp", target.Addr()) // cut short: incomplete, not a wrong label
		if err != nil {
			t.Fatal(err)
		}
		cut.Write(stream("sessionmesh", 100)[:5])
		cut.Close()
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
	want := map[string]uint64{rejectStream: 5, rejectStreamPlain: 5, rejectStreamLabel: 5, rejectStreamTimedOut: 5, rejectPacket: 200, rejectPacketLabel: 200}
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

// TestGateBoundsSlowStreams: strangers that send their header slowly hold at
// most perStranger slots each and strangerStreams in all, each for at most
// headerTimeout; more are closed at once; members' streams have slots of
// their own meanwhile.
func TestGateBoundsSlowStreams(t *testing.T) {
	secret := NewSecret()
	target := startNode(t, "target", secret)
	member := startNode(t, "member", secret)
	if err := member.Join(ctxFor(t, 10*time.Second), target.Addr()); err != nil {
		t.Fatal(err)
	}
	// Strangers dial from addresses of their own: 127.0.0.0/8 is all loopback.
	slow := func(ip string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", target.Addr())
		if err == nil {
			c.Write([]byte{labelMsg}) // and then nothing
		}
		return c, err
	}
	refused := func(c net.Conn) bool {
		c.SetDeadline(time.Now().Add(headerTimeout / 2)) // sooner than the slow ones are cut
		n, err := c.Read(make([]byte, 1))
		var ne net.Error // closed: EOF, or a reset for the byte it never read
		return n == 0 && err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range strangerStreams / perStranger {
		ip := fmt.Sprintf("127.0.0.%d", 50+i)
		for range perStranger {
			c, err := slow(ip)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		if i == 0 { // one more from the same address: over its share
			c, err := slow(ip)
			if err != nil {
				t.Fatal(err)
			}
			if !refused(c) {
				t.Error("a stranger got more than its share of slots")
			}
			c.Close()
		}
	}
	c, err := slow("127.0.0.99") // every stranger slot is taken
	if err != nil {
		t.Fatal(err)
	}
	if !refused(c) {
		t.Error("a stranger got a slot beyond the strangers' share")
	}
	c.Close()
	if got := target.Stats().Rejected[rejectStreamBusy]; got != 2 {
		t.Errorf("%d streams refused as too many, want 2", got)
	}
	// A member still pushes and pulls state: a join is one push/pull.
	if err := member.Join(ctxFor(t, 5*time.Second), target.Addr()); err != nil {
		t.Errorf("a member's stream while strangers hold their slots: %v", err)
	}
	// The slow ones are cut after headerTimeout, freeing their slots.
	deadline := time.Now().Add(10 * time.Second)
	for target.Stats().Rejected[rejectStreamTimedOut] < strangerStreams {
		if time.Now().After(deadline) {
			t.Fatalf("slow streams not cut: %v", target.Stats().Rejected)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGatePacketsCostNothing: checking and refusing a packet allocates
// nothing, so a flood of junk costs the checks only.
func TestGatePacketsCostNothing(t *testing.T) {
	g, err := newGate("sessionmesh", [][]byte{make([]byte, 32)}, time.Second, func() int { return 1 << 20 }, func(string) bool { return false },
		rejects.New("gossip", slog.New(slog.DiscardHandler), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer g.rejected.Close()
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 7946}
	junk := append([]byte{labelMsg, 11}, "sessionmesh"...)
	junk = append(junk, make([]byte, 1400)...)
	junk[len(junk)-1400] = 1 // an encryption version; the rest cannot decrypt
	scratch := make([]byte, 0, 2048)
	g.packetOK(junk, from, scratch) // the first refusal of a kind logs
	if n := testing.AllocsPerRun(1000, func() { _, scratch = g.packetOK(junk, from, scratch) }); n != 0 {
		t.Errorf("%v allocations per refused packet, want 0", n)
	}
}
