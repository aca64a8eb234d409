package cluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDuplicateName: a node that joins under the name of a live member is
// told so by Join, which names the member's address; the holder's cluster
// keeps it as it was.
func TestDuplicateName(t *testing.T) {
	secret := NewSecret()
	a := startNode(t, "web", secret)
	b := startNode(t, "other", secret)
	if err := b.Join(ctxFor(t, 10*time.Second), a.Addr()); err != nil {
		t.Fatal(err)
	}
	dup := startNode(t, "web", secret)
	for _, seed := range []*Node{a, b} { // through the holder, and through another member
		err := dup.Join(ctxFor(t, 10*time.Second), seed.Addr())
		if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), a.Addr()) {
			t.Errorf("Join through %s: %v; want ErrNameTaken naming %s", seed.Name(), err, a.Addr())
		}
	}
	for _, m := range b.Members() {
		if m.Name == "web" && m.Addr != a.Addr() {
			t.Errorf("b sees web at %s, want %s", m.Addr, a.Addr())
		}
	}
}

// TestDefaultNamesAreUnique: two nodes on one host with no Name set get
// different names (host:port) and form one cluster.
func TestDefaultNamesAreUnique(t *testing.T) {
	secret := NewSecret()
	var nodes []*Node
	for range 2 {
		cfg := LocalConfig()
		cfg.Secret = secret
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	host, _ := os.Hostname()
	for _, n := range nodes {
		_, port, _ := strings.Cut(n.Addr(), ":")
		if want := host + ":" + port; n.Name() != want {
			t.Errorf("default name %q, want %q", n.Name(), want)
		}
	}
	if err := nodes[1].Join(ctxFor(t, 10*time.Second), nodes[0].Addr()); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, nodes[0], func(ms []Member) bool { return len(ms) == 2 })
}

// TestJoinErrors: a missing or malformed seed is an error at once; a seed
// that never answers is retried, logged, and ends with ctx, naming why.
func TestJoinErrors(t *testing.T) {
	var logs syncBuffer
	cfg := LocalConfig()
	cfg.Name, cfg.Secret = "a", NewSecret()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, seeds := range [][]string{nil, {""}, {"no-port"}} {
		if err := n.Join(context.Background(), seeds...); err == nil {
			t.Errorf("Join(%q) succeeded", seeds)
		}
	}
	// A port nobody listens on: refused at once, every attempt.
	closed := freePort(t)
	err = n.Join(ctxFor(t, 300*time.Millisecond), closed)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), closed) {
		t.Errorf("Join(%s) = %v; want the deadline, naming the seed", closed, err)
	}
	// A name that does not resolve: the reason is in the error.
	err = n.Join(ctxFor(t, 300*time.Millisecond), "no-such-host.invalid:7946")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "resolve") {
		t.Errorf("Join(unresolvable) = %v; want the deadline and why", err)
	}
	if !strings.Contains(logs.String(), "cannot join the cluster yet") {
		t.Errorf("no warning logged while retrying; logs:\n%s", logs.String())
	}
}

// TestRestartUnderSameName: a process that crashed and comes back under its
// name at another address waits in Join until the cluster has declared the
// old one dead, then joins: its old self does not answer, so it is not a
// clash.
func TestRestartUnderSameName(t *testing.T) {
	secret := NewSecret()
	a := startNode(t, "a", secret)
	old := startNode(t, "b", secret)
	if err := old.Join(ctxFor(t, 10*time.Second), a.Addr()); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, a, func(ms []Member) bool { return len(ms) == 2 })
	old.Close() // a crash: no Leave
	b := startNode(t, "b", secret)
	if err := b.Join(ctxFor(t, 30*time.Second), a.Addr()); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, a, func(ms []Member) bool {
		return len(ms) == 2 && slicesContainsAddr(ms, "b", b.Addr())
	})
}

func slicesContainsAddr(ms []Member, name, addr string) bool {
	for _, m := range ms {
		if m.Name == name && m.Addr == addr {
			return true
		}
	}
	return false
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	n := startNode(t, "probe-"+strconv.Itoa(int(time.Now().UnixNano()%1000)), NewSecret())
	addr := n.Addr()
	n.Close()
	return addr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJoinDiagnoses: a seed of another cluster (another secret) and a seed
// that is not a gossip port are told apart from a port where nothing
// listens; a seed that cannot be an address is refused at once.
func TestJoinDiagnoses(t *testing.T) {
	n := startNode(t, "a", NewSecret())
	stranger := startNode(t, "b", NewSecret()) // another cluster
	err := n.Join(ctxFor(t, 300*time.Millisecond), stranger.Addr())
	if err == nil || !strings.Contains(err.Error(), "another secret or label") {
		t.Errorf("joining another cluster: %v; want it to say another secret or label", err)
	}
	for _, bad := range []string{"127.0.0.1:79466", "127.0.0.1:7946,", ":7946", "127.0.0.1:0"} {
		start := time.Now()
		if err := n.Join(context.Background(), bad); err == nil || time.Since(start) > time.Second {
			t.Errorf("Join(%q) = %v after %v; want an error at once", bad, err, time.Since(start))
		}
	}
}

// TestJoinedByAnother: a node still trying seeds that do not answer is in
// the cluster as soon as a member reaches it, and Join says so.
func TestJoinedByAnother(t *testing.T) {
	secret := NewSecret()
	a := startNode(t, "a", secret)
	b := startNode(t, "b", secret)
	errc := make(chan error, 1)
	go func() { errc <- a.Join(ctxFor(t, 20*time.Second), freePort(t)) }()
	if err := b.Join(ctxFor(t, 10*time.Second), a.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("a was reached by b, but its Join says %v", err)
	}
}

// TestJoinOnlySelf: seeds that name only this node make a cluster of one,
// with a warning.
func TestJoinOnlySelf(t *testing.T) {
	var logs syncBuffer
	cfg := LocalConfig()
	cfg.Name, cfg.Secret = "a", NewSecret()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Join(ctxFor(t, 10*time.Second), n.Addr()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "reached only this member itself") {
		t.Errorf("no warning; logs:\n%s", logs.String())
	}
}

// TestJoinOutOfReach: Join refuses a member its gossip socket cannot send
// to (memberlist would join over TCP and then suspect that member for good)
// and takes one it can. A stranger's first cluster was a LocalConfig member
// (IPv4 loopback) joining one on all interfaces that advertised the host's
// IPv6 address: Start returned nil, and the two suspected each other.
func TestJoinOutOfReach(t *testing.T) {
	secret := NewSecret()
	// advertising binds to loopback and advertises ip, which memberlist
	// gossips: a member on another host, or of another family, as the
	// others see it.
	advertising := func(name, ip string) (n *Node, bound string) {
		bound = freePort(t)
		_, port, _ := net.SplitHostPort(bound)
		cfg := LocalConfig()
		cfg.Name, cfg.Secret = name, secret
		cfg.BindAddr, cfg.AdvertiseAddr = bound, net.JoinHostPort(ip, port)
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n, bound
	}
	_, elsewhere := advertising("elsewhere", "192.0.2.1") // TEST-NET-1: not this host's
	_, ipv6 := advertising("ipv6", "2001:db8::1")
	for _, seed := range []string{elsewhere, ipv6} {
		near := startNode(t, "near-"+seed, secret)
		err := near.Join(ctxFor(t, 10*time.Second), seed)
		if !errors.Is(err, ErrOutOfReach) || !strings.Contains(err.Error(), "LocalConfig") {
			t.Errorf("a loopback node joins the member at %s: %v; want ErrOutOfReach naming the fix", seed, err)
		}
	}
	// A member at one of this host's own addresses is in reach of loopback.
	var own string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok && !p.IP.IsLoopback() && p.IP.To4() != nil {
			own = p.IP.String()
		}
	}
	if own == "" {
		t.Log("no IPv4 address of this host but loopback: the in-reach case is not tried")
		return
	}
	_, here := advertising("here", own)
	if err := startNode(t, "near", secret).Join(ctxFor(t, 10*time.Second), here); err != nil {
		t.Errorf("a loopback node joins a member at this host's %s: %v", own, err)
	}
}
