package tlsadapter_test

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionmesh/sessionmesh/cluster/ticketkeys"
	"github.com/sessionmesh/sessionmesh/internal/testclock"
	"github.com/sessionmesh/sessionmesh/internal/testcluster"
	"github.com/sessionmesh/sessionmesh/tlsadapter"
)

// TestTicketsCrossNode: in ticket mode a ticket issued by node i resumes on
// node j, for every ordered pair, in both TLS versions, with Go's client and
// with openssl.
func TestTicketsCrossNode(t *testing.T) {
	c := testcluster.Start(t, 3, testcluster.Options{Tickets: &ticketkeys.Config{}})
	c.WaitTicketKeys()
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			for i, from := range c.Nodes {
				for j, to := range c.Nodes {
					if i == j {
						continue
					}
					cl := c.Client(ver.v, "a.example")
					if _, err := cl.Connect(from.Addr); err != nil {
						t.Fatal(err)
					}
					if resumed, err := cl.Connect(to.Addr); err != nil || !resumed {
						t.Errorf("%s -> %s: resumed=%v err=%v", from.Name, to.Name, resumed, err)
					}
				}
			}
		})
	}
	if _, err := lookPath("openssl"); err == nil {
		for _, ver := range []struct{ flag, name string }{{"-tls1_2", "TLSv1.2"}, {"-tls1_3", "TLSv1.3"}} {
			sess := filepath.Join(t.TempDir(), "session.pem")
			sClient(t, "openssl", c.Nodes[0].Addr, ver.flag, "-sess_out", sess)
			for _, to := range c.Nodes[1:] {
				if out := sClient(t, "openssl", to.Addr, ver.flag, "-sess_in", sess); !strings.Contains(out, "Reused, "+ver.name) {
					t.Errorf("openssl %s to %s: not reused", ver.name, to.Name)
				}
			}
		}
	}
}

// TestTicketsThroughRotation: with the clock moved, a ticket issued before a
// rotation resumes on every node after it, until its lifetime ends, and never
// after; a node that joined after it was issued resumes it too.
func TestTicketsThroughRotation(t *testing.T) {
	clk := testclock.New(time.Now())
	keyCfg := &ticketkeys.Config{Rotation: time.Hour, Staging: time.Minute, Lifetime: 3 * time.Hour, Now: clk.Now}
	c := testcluster.Start(t, 3, testcluster.Options{Tickets: keyCfg, Cache: tlsadapter.CacheConfig{Now: clk.Now}})
	first := c.WaitTicketKeys()
	cl := c.Client(tls.VersionTLS13, "a.example")
	if _, err := cl.Connect(c.Nodes[0].Addr); err != nil {
		t.Fatal(err)
	}
	sess := cl.Session()
	resumesEverywhere := func(want bool) {
		t.Helper()
		for _, nd := range c.Nodes {
			cl.Offer(sess)
			if resumed, err := cl.Connect(nd.Addr); err != nil || resumed != want {
				t.Errorf("%s: resumed=%v err=%v, want resumed=%v", nd.Name, resumed, err, want)
			}
		}
	}

	clk.Advance(time.Hour) // the next key is made, staged
	waitStaged(t, c)
	clk.Advance(time.Minute) // and takes over
	c.WaitTicketKeys(first)
	c.AddNode()
	c.WaitRing(4)
	c.WaitTicketKeys()
	resumesEverywhere(true)

	clk.Advance(2*time.Hour - 2*time.Minute) // just inside the lifetime
	c.WaitTicketKeys()
	resumesEverywhere(true)
	clk.Advance(2 * time.Minute) // just past it
	c.WaitTicketKeys()
	resumesEverywhere(false)
	for _, nd := range c.Nodes {
		if nd.Tickets.Stats().Missed(tlsadapter.Expired)+nd.Tickets.Stats().Missed(tlsadapter.UnknownKey) == 0 {
			t.Errorf("%s: the expired ticket's miss was not counted: %+v", nd.Name, nd.Tickets.Stats())
		}
	}
}

// TestTicketsServerNameScoping: a ticket for a.example does not resume for b.example.
func TestTicketsServerNameScoping(t *testing.T) {
	c := testcluster.Start(t, 2, testcluster.Options{Tickets: &ticketkeys.Config{}})
	c.WaitTicketKeys()
	for _, ver := range versions {
		cl := c.Client(ver.v, "a.example")
		cl.Connect(c.Nodes[0].Addr)
		sess := cl.Session()
		cl.Config.ServerName = "b.example"
		cl.Offer(sess)
		if resumed, err := cl.Connect(c.Nodes[1].Addr); err != nil || resumed {
			t.Errorf("%s: resumed=%v err=%v", ver.name, resumed, err)
		}
		if c.Nodes[1].Tickets.Stats().Missed(tlsadapter.ServerNameMismatch) == 0 {
			t.Errorf("%s: mismatch not counted", ver.name)
		}
	}
}

// TestNothingOnDisk: a ticket-mode cluster, rotating keys and resuming
// sessions, writes no file: not in its working directory, not in TMPDIR.
func TestNothingOnDisk(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TMPDIR", dir)
	c := testcluster.Start(t, 2, testcluster.Options{Tickets: &ticketkeys.Config{Rotation: 2 * time.Second, Staging: 100 * time.Millisecond, Lifetime: time.Minute}})
	c.WaitTicketKeys()
	c.Nodes[0].Keys.Rotate()
	for i := range 10 {
		cl := c.Client(tls.VersionTLS12, "a.example")
		cl.Connect(c.Nodes[i%2].Addr)
		cl.Connect(c.Nodes[(i+1)%2].Addr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files written: %v", names)
	}
}

// waitStaged waits until every node holds n keys.
// waitStaged waits until every node holds the same newly generated key,
// staged: decrypt-only, not yet encrypting. (Counting keys would not do: a
// cluster whose members each made a first key holds two from the start.)
func waitStaged(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		staged := make(map[uint64]int)
		for _, nd := range c.Nodes {
			for _, k := range nd.Keys.Keys() {
				if k.State == ticketkeys.Staged {
					staged[k.ID]++
				}
			}
		}
		if len(staged) == 1 {
			for _, n := range staged {
				if n == len(c.Nodes) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes do not hold one staged key: %v", staged)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }

// TestRealClientsThroughRotation: openssl and Node.js sessions saved before a
// key rotation resume on another node after it.
func TestRealClientsThroughRotation(t *testing.T) {
	openssl := lookOpenSSL(t)
	clk := testclock.New(time.Now())
	keyCfg := &ticketkeys.Config{Rotation: time.Hour, Staging: time.Minute, Now: clk.Now}
	c := testcluster.Start(t, 2, testcluster.Options{Tickets: keyCfg, Cache: tlsadapter.CacheConfig{Now: clk.Now}})
	first := c.WaitTicketKeys()

	type saved struct{ version, file string }
	var sessions []saved
	for _, ver := range []struct{ flag, name string }{{"-tls1_2", "TLSv1.2"}, {"-tls1_3", "TLSv1.3"}} {
		file := filepath.Join(t.TempDir(), "session.pem")
		sClient(t, openssl, c.Nodes[0].Addr, ver.flag, "-sess_out", file)
		sessions = append(sessions, saved{ver.flag, file})
	}

	clk.Advance(time.Hour)
	waitStaged(t, c)
	clk.Advance(time.Minute)
	c.WaitTicketKeys(first)

	for _, s := range sessions {
		if out := sClient(t, openssl, c.Nodes[1].Addr, s.version, "-sess_in", s.file); !strings.Contains(out, "Reused,") {
			t.Errorf("openssl %s: a session from before the rotation was not reused:\n%s", s.version, grep(out, "Reused", "New,"))
		}
	}
}
