package tlsadapter_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/internal/leakcheck"
	"github.com/sessionmesh/sessionmesh/internal/testclock"

	"github.com/sessionmesh/sessionmesh/internal/testcluster"
	"github.com/sessionmesh/sessionmesh/store"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var versions = []struct {
	name string
	v    uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// TestCrossNodeResumption: a session made on node i resumes on node j, for
// every ordered pair, with Go's client, in both TLS versions.
func TestCrossNodeResumption(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprint(size, " nodes"), func(t *testing.T) {
			c := testcluster.Start(t, size, testcluster.Options{})
			for _, ver := range versions {
				t.Run(ver.name, func(t *testing.T) {
					for i, from := range c.Nodes {
						for j, to := range c.Nodes {
							if i == j {
								continue
							}
							cl := c.Client(ver.v, "a.example")
							if resumed, err := cl.Connect(from.Addr); err != nil || resumed {
								t.Fatalf("first connection to %s: resumed=%v err=%v", from.Name, resumed, err)
							}
							resumed, err := cl.Connect(to.Addr)
							if err != nil {
								t.Fatalf("%s -> %s: %v", from.Name, to.Name, err)
							}
							if !resumed {
								t.Errorf("%s -> %s: not resumed", from.Name, to.Name)
							}
						}
					}
				})
			}
		})
	}
}

// TestServerNameScoping: a session made for a.example is never resumed for
// b.example, on the node that made it or any other; the handshake still works.
func TestServerNameScoping(t *testing.T) {
	c := testcluster.Start(t, 3, testcluster.Options{})
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			for _, to := range c.Nodes {
				cl := c.Client(ver.v, "a.example")
				if _, err := cl.Connect(c.Nodes[0].Addr); err != nil {
					t.Fatal(err)
				}
				// Same client cache, other name: move the session over by hand,
				// as a client that ignores SNI in its cache key could.
				sess, ok := cl.Config.ClientSessionCache.Get("a.example")
				if !ok {
					t.Fatal("no session cached")
				}
				cl.Config.ClientSessionCache.Put("b.example", sess)
				cl.Config.ServerName = "b.example"
				before := to.Cache.Stats().Missed(tlsadapter.ServerNameMismatch)
				resumed, err := cl.Connect(to.Addr)
				if err != nil || resumed {
					t.Fatalf("%s: resumed=%v err=%v; want a full handshake", to.Name, resumed, err)
				}
				if to.Cache.Stats().Missed(tlsadapter.ServerNameMismatch) != before+1 {
					t.Errorf("%s: miss not counted as a server-name mismatch: %+v", to.Name, to.Cache.Stats())
				}
			}
		})
	}
}

// TestExpiry: with the clock moved past SessionTTL, no node resumes the
// session, and each says why: it expired (whether the node held a copy or
// asked one that did), not that it was never there.
func TestExpiry(t *testing.T) {
	clk := testclock.New(time.Now())
	c := testcluster.Start(t, 3, testcluster.Options{
		Cache: tlsadapter.CacheConfig{SessionTTL: time.Hour, Now: clk.Now},
		Store: func(sc *store.Config) { sc.Now = clk.Now },
	})
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			cl := c.Client(ver.v, "a.example")
			cl.Connect(c.Nodes[0].Addr)
			sess := cl.Session()
			clk.Advance(59 * time.Minute)
			for _, nd := range c.Nodes {
				cl.Offer(sess)
				if resumed, err := cl.Connect(nd.Addr); err != nil || !resumed {
					t.Fatalf("%s before the TTL: resumed=%v err=%v", nd.Name, resumed, err)
				}
			}
			clk.Advance(time.Minute)
			for _, nd := range c.Nodes {
				before := nd.Cache.Stats()
				cl.Offer(sess)
				if resumed, err := cl.Connect(nd.Addr); err != nil || resumed {
					t.Errorf("%s after the TTL: resumed=%v err=%v", nd.Name, resumed, err)
				}
				after := nd.Cache.Stats()
				if after.Missed(tlsadapter.Expired)-before.Missed(tlsadapter.Expired) != 1 {
					t.Errorf("%s: the miss was not counted as expired: %+v", nd.Name, after)
				}
			}
		})
	}
}

// TestEvictionAtBudget: a node whose memory budget is full drops its least
// recently used sessions; their clients get full handshakes, newer ones resume.
func TestEvictionAtBudget(t *testing.T) {
	const sessions = 50
	c := testcluster.Start(t, 2, testcluster.Options{
		// Room for about 20 TLS 1.3 sessions.
		Store: func(sc *store.Config) { sc.MaxBytes = 20 * store.Cost(store.IDLen, 100) },
	})
	clients := make([]*testcluster.Client, sessions)
	for i := range clients {
		clients[i] = c.Client(tls.VersionTLS13, "a.example")
		if _, err := clients[i].Connect(c.Nodes[0].Addr); err != nil {
			t.Fatal(err)
		}
	}
	st := c.Nodes[0].Store.Stats()
	if st.Bytes > st.MaxBytes || st.Evictions == 0 {
		t.Fatalf("store stats %+v", st)
	}
	if resumed, err := clients[0].Connect(c.Nodes[1].Addr); err != nil || resumed {
		t.Errorf("oldest session: resumed=%v err=%v, want a full handshake", resumed, err)
	}
	if resumed, err := clients[sessions-1].Connect(c.Nodes[1].Addr); err != nil || !resumed {
		t.Errorf("newest session: resumed=%v err=%v", resumed, err)
	}
}

// TestReturningOutlastFlood: a flood of full handshakes from clients that
// never come back, many times the memory budget, pushes out none of the
// sessions of clients that did come back (resumed once): those are evicted
// only by each other.
func TestReturningOutlastFlood(t *testing.T) {
	c := testcluster.Start(t, 1, testcluster.Options{
		// Room for about 40 TLS 1.3 sessions.
		Store: func(sc *store.Config) { sc.MaxBytes = 40 * store.Cost(store.IDLen, 100) },
	})
	addr := c.Nodes[0].Addr
	var regulars []*testcluster.Client
	for range 10 {
		cl := c.Client(tls.VersionTLS13, "a.example")
		cl.Connect(addr)                                              // first visit
		if resumed, err := cl.Connect(addr); err != nil || !resumed { // it comes back
			t.Fatalf("second visit: resumed=%v err=%v", resumed, err)
		}
		regulars = append(regulars, cl)
	}
	for range 400 { // strangers: a full handshake each, never again
		if _, err := c.Client(tls.VersionTLS13, "a.example").Connect(addr); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Nodes[0].Store.Stats(); st.Evictions < 300 || st.Bytes > st.MaxBytes {
		t.Fatalf("the flood evicted %d records, %d of %d bytes held", st.Evictions, st.Bytes, st.MaxBytes)
	}
	for i, cl := range regulars {
		if resumed, err := cl.Connect(addr); err != nil || !resumed {
			t.Errorf("returning client %d after the flood: resumed=%v err=%v", i, resumed, err)
		}
	}
}

// TestStoppedNode: sessions held only by a node that stopped (one copy of
// each) cost a full handshake, never a failed one; the others still resume.
// (With replicas, the default, they survive: see internal/faulttest.)
func TestStoppedNode(t *testing.T) {
	c := testcluster.Start(t, 3, testcluster.Options{Store: func(sc *store.Config) { sc.Replicas = 1 }})
	type pair struct {
		version    uint16
		lost, kept *testcluster.Client
	}
	var pairs []pair
	for _, ver := range versions {
		p := pair{ver.v, c.Client(ver.v, "a.example"), c.Client(ver.v, "a.example")}
		if _, err := p.lost.Connect(c.Nodes[0].Addr); err != nil {
			t.Fatal(err)
		}
		if _, err := p.kept.Connect(c.Nodes[2].Addr); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	c.Nodes[0].Stop()
	for _, p := range pairs {
		sess := p.lost.Session()
		for range 3 {
			p.lost.Offer(sess)
			resumed, err := p.lost.Connect(c.Nodes[1].Addr)
			if err != nil {
				t.Fatalf("version %x: handshake failed: %v", p.version, err)
			}
			if resumed {
				t.Errorf("version %x: resumed a session of a stopped node", p.version)
			}
		}
		if resumed, err := p.kept.Connect(c.Nodes[1].Addr); err != nil || !resumed {
			t.Errorf("version %x: a live node's session: resumed=%v err=%v", p.version, resumed, err)
		}
	}
}

// TestHostileTickets: garbage, truncated, oversized, unknown and replayed
// tickets never fail a handshake.
func TestHostileTickets(t *testing.T) {
	c := testcluster.Start(t, 3, testcluster.Options{})
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			cl := c.Client(ver.v, "a.example")
			if _, err := cl.Connect(c.Nodes[0].Addr); err != nil {
				t.Fatal(err)
			}
			real, _ := cl.Config.ClientSessionCache.Get("a.example")
			ticket, state, err := real.ResumptionState()
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name   string
				ticket []byte
				resume bool
			}{
				{"one byte", []byte{0}, false},
				{"truncated", ticket[:31], false},
				{"one too long", append(bytes.Clone(ticket), 0), false},
				{"unknown id", random(32), false},
				{"16 KiB", random(16 << 10), false},
				{"real, replayed", ticket, true},
				{"real, replayed again", ticket, true},
			} {
				forged, err := tls.NewResumptionState(tc.ticket, state)
				if err != nil {
					t.Fatal(err)
				}
				for _, nd := range c.Nodes[1:] {
					cl.Config.ClientSessionCache.Put("a.example", forged)
					resumed, err := cl.Connect(nd.Addr)
					if err != nil {
						t.Fatalf("%s to %s: handshake failed: %v", tc.name, nd.Name, err)
					}
					if resumed != tc.resume {
						t.Errorf("%s to %s: resumed=%v, want %v", tc.name, nd.Name, resumed, tc.resume)
					}
				}
			}
		})
	}
}

// TestHandshakeCounters: each node counts its handshakes by TLS version and
// result, and the base config's own VerifyConnection still runs first.
func TestHandshakeCounters(t *testing.T) {
	c := testcluster.Start(t, 2, testcluster.Options{})
	for _, ver := range versions {
		cl := c.Client(ver.v, "a.example")
		cl.Connect(c.Nodes[0].Addr)
		cl.Connect(c.Nodes[1].Addr)
		a, b := c.Nodes[0].Cache.Stats(), c.Nodes[1].Cache.Stats()
		if a.Handshakes(false, ver.v) != 1 || a.Handshakes(true, ver.v) != 0 {
			t.Errorf("%s: node-0 counted %d full, %d resumed; want 1, 0", ver.name, a.Handshakes(false, ver.v), a.Handshakes(true, ver.v))
		}
		if b.Handshakes(true, ver.v) != 1 || b.Handshakes(false, ver.v) != 0 {
			t.Errorf("%s: node-1 counted %d resumed, %d full; want 1, 0", ver.name, b.Handshakes(true, ver.v), b.Handshakes(false, ver.v))
		}
	}

	// A config whose own check refuses the connection: the check runs, the
	// handshake fails, and nothing is counted.
	called := false
	cfg := c.Nodes[0].Cache.TLSConfig(&tls.Config{
		Certificates: []tls.Certificate{c.Cert},
		VerifyConnection: func(tls.ConnectionState) error {
			called = true
			return errors.New("no")
		},
	})
	before := c.Nodes[0].Cache.Stats()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if conn, err := ln.Accept(); err == nil {
			conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: c.Roots, ServerName: "a.example"})
	if err == nil {
		_, err = conn.Read(make([]byte, 1)) // TLS 1.3: the refusal arrives after the client's handshake
		conn.Close()
	}
	<-done
	if err == nil || !called {
		t.Errorf("handshake error %v, base VerifyConnection called %v", err, called)
	}
	if after := c.Nodes[0].Cache.Stats(); !maps.Equal(after.Full, before.Full) || !maps.Equal(after.Resumed, before.Resumed) {
		t.Error("a refused handshake was counted")
	}
}

// TestGetConfigForClient: a server that picks its config by server name
// (GetConfigForClient) shares sessions across nodes through every config it
// picks, and each handshake is counted, in both TLS versions.
func TestGetConfigForClient(t *testing.T) {
	c := testcluster.Start(t, 2, testcluster.Options{})
	addrs := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		perName := map[string]*tls.Config{}
		for _, name := range testcluster.ServerNames {
			perName[name] = &tls.Config{Certificates: []tls.Certificate{c.Cert}}
		}
		base := &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			return perName[hello.ServerName], nil
		}}
		addrs[i] = nd.Serve(t, nd.Cache.TLSConfig(base))
	}
	for _, ver := range versions {
		for _, name := range testcluster.ServerNames {
			t.Run(ver.name+" "+name, func(t *testing.T) {
				before := c.Nodes[1].Cache.Stats()
				cl := c.Client(ver.v, name)
				if resumed, err := cl.Connect(addrs[0]); err != nil || resumed {
					t.Fatalf("first connection: resumed=%v err=%v", resumed, err)
				}
				resumed, err := cl.Connect(addrs[1])
				if err != nil || !resumed {
					t.Fatalf("second node: resumed=%v err=%v", resumed, err)
				}
				after := c.Nodes[1].Cache.Stats()
				if got := after.Resumed[ver.v] - before.Resumed[ver.v]; got != 1 {
					t.Errorf("second node counted %d resumed handshakes, want 1", got)
				}
			})
		}
	}
}
