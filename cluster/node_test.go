package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// startNode starts a node named name on loopback and closes it with the test.
func startNode(t *testing.T, name string, secret []byte) *Node {
	t.Helper()
	cfg := LocalConfig()
	cfg.Name = name
	cfg.Secret = secret
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// startCluster starts size nodes, each joining the first.
func startCluster(t *testing.T, size int, secret []byte) []*Node {
	t.Helper()
	nodes := make([]*Node, size)
	for i := range nodes {
		nodes[i] = startNode(t, fmt.Sprintf("node-%02d", i), secret)
		if i > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := nodes[i].Join(ctx, nodes[0].Addr())
			cancel()
			if err != nil {
				t.Fatalf("join: %v", err)
			}
		}
	}
	return nodes
}

// waitMembers waits until n's member list satisfies ok, using Watch.
func waitMembers(t *testing.T, n *Node, ok func([]Member) bool) []Member {
	t.Helper()
	changes, stop := n.Watch()
	defer stop()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case _, open := <-changes:
			if !open {
				t.Fatalf("%s closed while waiting", n.Name())
			}
			if ms := n.Members(); ok(ms) {
				return ms
			}
		case <-timeout:
			t.Fatalf("%s: members never converged; have %v", n.Name(), names(n.Members()))
		}
	}
}

func names(ms []Member) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	return s
}

func hasSize(k int) func([]Member) bool { return func(ms []Member) bool { return len(ms) == k } }

func TestJoinConvergesAndAdvertises(t *testing.T) {
	secret := NewSecret()
	nodes := startCluster(t, 3, secret)
	for i, n := range nodes {
		if err := n.Advertise(fmt.Sprintf("127.0.0.1:%d", 9000+i), 7); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"node-00", "node-01", "node-02"}
	for _, n := range nodes {
		ms := waitMembers(t, n, func(ms []Member) bool {
			if len(ms) != 3 {
				return false
			}
			for _, m := range ms {
				if m.DataAddr == "" {
					return false
				}
			}
			return true
		})
		if got := names(ms); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", n.Name(), got, want)
		}
		for i, m := range ms {
			if m.Local != (m.Name == n.Name()) {
				t.Errorf("%s: member %s Local=%v", n.Name(), m.Name, m.Local)
			}
			if want := fmt.Sprintf("127.0.0.1:%d", 9000+i); m.DataAddr != want || m.DataVersion != 7 {
				t.Errorf("%s: member %s data %s v%d, want %s v7", n.Name(), m.Name, m.DataAddr, m.DataVersion, want)
			}
			if m.Started.IsZero() {
				t.Errorf("%s: member %s has no start time", n.Name(), m.Name)
			}
		}
	}

	// Withdrawing the address is seen everywhere.
	if err := nodes[1].Advertise("", 7); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		waitMembers(t, n, func(ms []Member) bool { return len(ms) == 3 && ms[1].DataAddr == "" })
	}
}

func TestAdvertiseAllInterfacesUsesGossipHost(t *testing.T) {
	n := startNode(t, "solo", NewSecret())
	if err := n.Advertise(":7947", 1); err != nil {
		t.Fatal(err)
	}
	ms := waitMembers(t, n, func(ms []Member) bool { return len(ms) == 1 && ms[0].DataAddr != "" })
	if got := ms[0].DataAddr; got != "127.0.0.1:7947" {
		t.Errorf("DataAddr = %q, want 127.0.0.1:7947", got)
	}
}

func TestLeaveIsSeenAtOnce(t *testing.T) {
	nodes := startCluster(t, 3, NewSecret())
	for _, n := range nodes {
		waitMembers(t, n, hasSize(3))
	}
	if err := nodes[2].Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:2] {
		waitMembers(t, n, hasSize(2))
	}
	if err := nodes[2].Leave(context.Background()); err != nil {
		t.Errorf("second Leave: %v", err)
	}
	if err := nodes[2].Advertise("127.0.0.1:1", 1); err != ErrClosed {
		t.Errorf("Advertise after Leave = %v, want ErrClosed", err)
	}
	nodes[2].Close()
	if err := nodes[2].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := nodes[2].Leave(context.Background()); err != ErrClosed {
		t.Errorf("Leave after Close = %v, want ErrClosed", err)
	}
}

func TestWrongSecretCannotJoin(t *testing.T) {
	good := startNode(t, "good", NewSecret())
	evil := startNode(t, "evil", NewSecret())
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := evil.Join(ctx, good.Addr())
	if err == nil {
		t.Fatal("a node with another secret joined")
	}
	t.Logf("error: %v", err)
	if ms := good.Members(); len(ms) != 1 {
		t.Errorf("good node sees %v", names(ms))
	}
}

func TestJoinUnreachableSeedFailsClearly(t *testing.T) {
	n := startNode(t, "lonely", NewSecret())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = n.Join(ctx, addr)
	if err == nil {
		t.Fatal("joined a closed port")
	}
	t.Logf("error: %v", err)
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no secret", Config{Name: "x", BindAddr: "127.0.0.1:0"}},
		{"short secret", Config{Name: "x", BindAddr: "127.0.0.1:0", Secret: []byte("short")}},
		{"bad bind", Config{Name: "x", BindAddr: "127.0.0.1", Secret: NewSecret()}},
		{"short old secret", Config{Name: "x", BindAddr: "127.0.0.1:0", Secret: NewSecret(), OldSecrets: [][]byte{[]byte("x")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(tc.cfg)
			if err == nil {
				n.Close()
				t.Fatal("New succeeded")
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestSecretRoundTrip(t *testing.T) {
	s := NewSecret()
	got, err := ParseSecret(EncodeSecret(s) + "\n")
	if err != nil || string(got) != string(s) {
		t.Fatalf("ParseSecret(EncodeSecret(s)) = %x, %v; want %x", got, err, s)
	}
	if _, err := ParseSecret("c2hvcnQ"); err == nil {
		t.Error("accepted a 5-byte secret")
	}
	if _, err := ParseSecret("not base64!"); err == nil {
		t.Error("accepted garbage")
	}
}

// TestPeerTLS checks the derived mutual TLS: same secret connects, a node with
// another secret can neither serve to nor connect to the cluster, and a client
// without a certificate is refused.
func TestPeerTLS(t *testing.T) {
	secret, other := NewSecret(), NewSecret()
	server := mustPeerTLS(t, "server", secret)

	for _, tc := range []struct {
		name           string
		server, client *tls.Config
		ok             bool
	}{
		{"same secret", server, mustPeerTLS(t, "client", secret), true},
		{"other secret", server, mustPeerTLS(t, "client", other), false},
		{"other secret serving", mustPeerTLS(t, "evil", other), mustPeerTLS(t, "client", secret), false},
		{"no client certificate", server, &tls.Config{RootCAs: server.RootCAs, ServerName: PeerServerName}, false},
		// Mid-rotation: one node already issues with the new secret, the
		// other still with the old; each trusts both.
		{"rotation", mustPeerTLS(t, "server", secret, other), mustPeerTLS(t, "client", other, secret), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, tc.server, tc.client)
			if (err == nil) != tc.ok {
				t.Fatalf("handshake error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func mustPeerTLS(t *testing.T, name string, secrets ...[]byte) *tls.Config {
	t.Helper()
	c, err := PeerTLSConfig(name, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handshake runs a TLS handshake over loopback and exchanges one byte, so that
// a rejected client certificate surfaces on the client too.
func handshake(t *testing.T, server, client *tls.Config) error {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if c.(*tls.Conn).Handshake() == nil {
			c.Write([]byte{1})
		}
	}()
	defer func() { <-done }()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(c, make([]byte, 1))
	return err
}

// TestStatsAndHealth: members are counted, probes give them round trips,
// and a member that dies is counted as gone (and dialed again).
func TestStatsAndHealth(t *testing.T) {
	nodes := startCluster(t, 3, NewSecret())
	for _, n := range nodes {
		waitMembers(t, n, hasSize(3))
	}
	// Probes do not notify watchers: poll until node-00 has had an
	// answered probe of each other member.
	poll(t, func() bool {
		for _, m := range nodes[0].Members() {
			if !m.Local && m.RTT == 0 {
				return false
			}
		}
		return true
	})
	if st := nodes[0].Stats(); st.Members != 3 || st.Suspect != 0 || st.Dead != 0 {
		t.Fatalf("stats %+v", st)
	}
	nodes[2].Close() // silence, no leave
	waitMembers(t, nodes[0], hasSize(2))
	if st := nodes[0].Stats(); st.Dead != 1 {
		t.Errorf("after the crash: %+v", st)
	}
}

// poll checks cond every few milliseconds until it holds, for up to 20 s.
func poll(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSuspect: a member that has answered no probe for three rounds is
// flagged suspect; one that answered recently is not.
func TestSuspect(t *testing.T) {
	s := newMemberSet("a", slog.New(slog.DiscardHandler), time.Second)
	for _, name := range []string{"a", "b", "c"} {
		s.update(&memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1)})
	}
	s.acked("b", 300*time.Microsecond)
	s.mu.Lock()
	s.acks["c"] = ack{at: time.Now().Add(-7 * time.Second)} // 3 rounds of 2 members is 6 s
	s.mu.Unlock()
	ms := s.list()
	if ms[1].Suspect || ms[1].RTT != 300*time.Microsecond || !ms[2].Suspect || ms[0].Suspect {
		t.Errorf("members %+v", ms)
	}
	if m, sus, gone := s.counts(); m != 3 || sus != 1 || gone != 0 {
		t.Errorf("counts %d %d %d", m, sus, gone)
	}
}
